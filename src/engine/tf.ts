// The one TF.js instance (functional ops only: chained `x.reshape()` methods are not registered) the package uses. Importing this module registers the cpu and wasm
// backends (and the project's kernel fixes for wasm), so every other module imports `tf` from here.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
