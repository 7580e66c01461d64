// Package entry for browsers: the engine over navigator.gpu.
export * from './index.js';
export { createBrowserEngine } from './gpu/browser.js';
export { decodeImageInBrowser, fromRgba, type BrowserDecodeOptions } from './data/browser-images.js';
