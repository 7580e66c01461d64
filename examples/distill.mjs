// The library without the CLI: distil the committed teacher into student-cnn with KD+LR+DS.
//   node examples/distill.mjs [epochs] [train-subset]
import { createNodeEngine, loadFashionMnist, loadModel, modelPath, normalize, distill, DEFAULT_DISTILL } from 'kdgpu';

const epochs = Number(process.argv[2] ?? 2);
const trainSubset = Number(process.argv[3] ?? 5000);
const engine = await createNodeEngine(); // a GPU, else SwiftShader
const teacher = await loadModel(engine, modelPath('teacher-cnn')); // shipped with the package, weights only
const { mean, std } = teacher.config.normalisation;
const [train, test] = (await Promise.all([loadFashionMnist('train'), loadFashionMnist('test')])).map((d) => normalize(d, mean, std));

const result = await distill(
  engine,
  { model: teacher.model, hash: teacher.hash },
  { train, test },
  { ...DEFAULT_DISTILL, method: 'kd+lr+ds', student: 'student-cnn', epochs, trainSubset },
  { onEpoch: (t) => console.log(`epoch ${t.epoch}: test ${(100 * t.testAccuracy).toFixed(2)}%, |Dt| ${t.distilled}, LR changed ${t.lrChanged}`) },
);
console.log(`last ${(100 * result.last).toFixed(2)}%, test at best validation ${(100 * result.testAtBestVal).toFixed(2)}%`);
engine.destroy();
