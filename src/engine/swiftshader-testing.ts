// For tests only: the environment that gives Dawn (the `webgpu` package) SwiftShader's Vulkan driver,
// the CPU emulation of a GPU that Debian's chromium package ships (vk_swiftshader_icd.json and a
// libvulkan.so.1 beside it). The engine itself never looks for SwiftShader: it is a software adapter,
// used only when webgpu is asked for by name.
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ICD_CANDIDATES = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib64/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];

/** Whether the optional `webgpu` package (Dawn's node bindings) is installed. */
export function dawnInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('webgpu/package.json');
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment for a child process whose `--backend webgpu` reaches SwiftShader, or why a test
 * cannot run (a skip reason). LORAPRO_SWIFTSHADER_ICD names another vk_swiftshader_icd.json.
 */
export function swiftshaderEnv(): { env: NodeJS.ProcessEnv; skip: false } | { env?: undefined; skip: string } {
  if (process.platform !== 'linux') return { skip: 'SwiftShader through Dawn is set up for Linux only' };
  if (!dawnInstalled()) return { skip: 'the optional package "webgpu" (Dawn\'s node bindings) is not installed: npm i webgpu' };
  const icd = [process.env.LORAPRO_SWIFTSHADER_ICD, ...ICD_CANDIDATES].find((p): p is string => !!p && existsSync(p));
  if (!icd) return { skip: `no SwiftShader Vulkan driver (vk_swiftshader_icd.json; apt-get install chromium, or set LORAPRO_SWIFTSHADER_ICD): looked in ${ICD_CANDIDATES.join(', ')}` };
  const libs = [dirname(icd), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'); // chromium's folder holds a libvulkan.so.1
  const runtime = process.env.XDG_RUNTIME_DIR ?? mkdtempSync(join(tmpdir(), 'lorapro-xdg-'));
  return { env: { ...process.env, VK_ICD_FILENAMES: icd, LD_LIBRARY_PATH: libs, XDG_RUNTIME_DIR: runtime, LORAPRO_BACKEND: 'webgpu' }, skip: false };
}
