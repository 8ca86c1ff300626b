// The one TF.js instance the package uses (functional ops only: chained `x.reshape()` methods are
// not registered). Importing this module registers the cpu and wasm backends, the gradients and the
// project's kernel fixes for wasm, so every other module imports `tf` from here.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's Node bundle ships no gradient functions and its per-file ESM build cannot load in
// Node (extensionless imports); the union package's bundle registers all of them on this instance.
import '@tensorflow/tfjs';
import './kernels/register.js';
import { installShapeOnlyGradients } from './shape-grads.js';

installShapeOnlyGradients(); // after '@tensorflow/tfjs' has registered the stock gradients

export { tf };
