// The one TF.js instance the package uses. Importing this module registers the cpu and wasm
// backends (and the project's kernel fixes for wasm), so every other module imports `tf` from here.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
