// The public API of lorapro. Everything a user imports comes from here.
export { tf } from './engine/tf.js';
export { useBackend, ensureBackend, BACKEND_ENV } from './engine/backend.js';
