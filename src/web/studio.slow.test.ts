// The slow suite's playground test: studio.test.ts with the webgpu run trained to the end (all 20
// steps and both evaluations on SwiftShader, ~4 min here) after Stop and Continue.
process.env.LORAPRO_STUDIO_FULL_WEBGPU = '1';
await import('./studio.test.js');
