// The subset of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto, proto2, package onnx) that the
// exporter writes and the tests read back, as a protobufjs JSON descriptor: no .proto file to
// parse at run time, no code generation, and it bundles for Node and the browser alike.
// Field names and numbers are onnx.proto's; a field left out here is skipped when decoding.

import protobuf from 'protobufjs/light.js';

const repeated = (type: string, id: number, packed?: boolean) => ({ rule: 'repeated', type, id, ...(packed === undefined ? {} : { options: { packed } }) });
const optional = (type: string, id: number) => ({ type, id });

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: optional('string', 1),
            doc_string: optional('string', 13),
            type: optional('AttributeType', 20),
            f: optional('float', 2),
            i: optional('int64', 3),
            s: optional('bytes', 4),
            t: optional('TensorProto', 5),
            floats: repeated('float', 7, false),
            ints: repeated('int64', 8, false),
            strings: repeated('bytes', 9),
          },
          nested: {
            AttributeType: { values: { UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } },
          },
        },
        ValueInfoProto: { fields: { name: optional('string', 1), type: optional('TypeProto', 2), doc_string: optional('string', 3) } },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: optional('string', 3),
            op_type: optional('string', 4),
            domain: optional('string', 7),
            attribute: repeated('AttributeProto', 5),
            doc_string: optional('string', 6),
          },
        },
        ModelProto: {
          fields: {
            ir_version: optional('int64', 1),
            opset_import: repeated('OperatorSetIdProto', 8),
            producer_name: optional('string', 2),
            producer_version: optional('string', 3),
            domain: optional('string', 4),
            model_version: optional('int64', 5),
            doc_string: optional('string', 6),
            graph: optional('GraphProto', 7),
            metadata_props: repeated('StringStringEntryProto', 14),
          },
        },
        StringStringEntryProto: { fields: { key: optional('string', 1), value: optional('string', 2) } },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: optional('string', 2),
            initializer: repeated('TensorProto', 5),
            doc_string: optional('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1, false),
            data_type: optional('int32', 2),
            float_data: repeated('float', 4, true),
            int64_data: repeated('int64', 7, true),
            name: optional('string', 8),
            doc_string: optional('string', 12),
            raw_data: optional('bytes', 9),
          },
          nested: {
            DataType: { values: { UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } },
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: { dim_value: optional('int64', 1), dim_param: optional('string', 2), denotation: optional('string', 3) },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: { tensor_type: optional('Tensor', 1), denotation: optional('string', 6) },
          nested: { Tensor: { fields: { elem_type: optional('int32', 1), shape: optional('TensorShapeProto', 2) } } },
        },
        OperatorSetIdProto: { fields: { domain: optional('string', 1), version: optional('int64', 2) } },
      },
    },
  },
};

/** onnx.TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;
/** onnx.AttributeProto.AttributeType values used here. */
export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

// Plain-object shapes of the messages (snake_case, as in onnx.proto); int64 fields as numbers.
export interface OnnxTensor { name: string; dims: number[]; data_type: number; raw_data?: Uint8Array; float_data?: number[]; int64_data?: number[] }
export interface OnnxAttribute { name: string; type: number; f?: number; i?: number; s?: Uint8Array; floats?: number[]; ints?: number[] }
export interface OnnxNode { name?: string; op_type: string; domain?: string; input: string[]; output: string[]; attribute?: OnnxAttribute[]; doc_string?: string }
export interface OnnxDim { dim_value?: number; dim_param?: string }
export interface OnnxValueInfo { name: string; doc_string?: string; type: { tensor_type: { elem_type: number; shape: { dim: OnnxDim[] } } } }
export interface OnnxGraph { name: string; doc_string?: string; node: OnnxNode[]; initializer: OnnxTensor[]; input: OnnxValueInfo[]; output: OnnxValueInfo[] }
export interface OnnxModel {
  ir_version: number;
  opset_import: Array<{ domain?: string; version: number }>;
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph: OnnxGraph;
  metadata_props?: Array<{ key: string; value: string }>;
}

let modelType: protobuf.Type | null = null;

function ModelProto(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(SCHEMA as protobuf.INamespace).lookupType('onnx.ModelProto');
  return modelType;
}

/** A ModelProto's bytes (the .onnx file). Refuses a message protobufjs finds invalid, naming the field. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const type = ModelProto();
  const problem = type.verify(model);
  if (problem) throw new Error(`ONNX export: invalid ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** A .onnx file back as plain objects (int64 as numbers); fields outside the subset above are dropped. */
export function decodeOnnxModel(bytes: Uint8Array, fileName: string): OnnxModel {
  const type = ModelProto();
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (e) {
    throw new Error(`${fileName}: not an ONNX model (a ModelProto): ${(e as Error).message}`);
  }
  return type.toObject(message, { longs: Number, arrays: true, defaults: false }) as OnnxModel;
}
