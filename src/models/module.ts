import { tf } from '../engine/tf.js';

/**
 * A tree of layers whose parameter names are Hugging Face's names (`h.0.attn.c_attn.weight`), so
 * loading a checkpoint is name for name. Subclasses register children with `child()` and
 * parameters with `param()`, in constructor order; both keep insertion order for stable state.
 */
export abstract class Module {
  private readonly paramsByName = new Map<string, tf.Variable>();
  private readonly childrenByName = new Map<string, Module>();

  /** Registers a trainable parameter under a local name ("weight", "bias"). */
  protected param<R extends tf.Rank>(name: string, value: tf.Tensor<R>, trainable = true): tf.Variable<R> {
    if (this.paramsByName.has(name) || this.childrenByName.has(name)) throw new Error(`duplicate member "${name}" in ${this.constructor.name}`);
    const v = tf.variable(value, trainable);
    value.dispose();
    this.paramsByName.set(name, v);
    return v;
  }

  /** Registers a child module under a local name ("attn", "0"). */
  protected child<M extends Module>(name: string, module: M): M {
    if (this.paramsByName.has(name)) throw new Error(`duplicate member "${name}" in ${this.constructor.name}`);
    this.childrenByName.set(name, module);
    return module;
  }

  /** Replaces a registered child (used by adapter injection); the caller owns the old one. */
  replaceChild(name: string, module: Module): Module {
    const old = this.childrenByName.get(name);
    if (old === undefined) throw new Error(`${this.constructor.name} has no child "${name}"`);
    this.childrenByName.set(name, module);
    this.onChildReplaced(name, module);
    return old;
  }

  /** Subclasses that keep typed references to children update them here. */
  protected onChildReplaced(_name: string, _module: Module): void {
    throw new Error(`${this.constructor.name} does not support replacing child modules`);
  }

  children(): ReadonlyMap<string, Module> {
    return this.childrenByName;
  }

  localParameters(): ReadonlyMap<string, tf.Variable> {
    return this.paramsByName;
  }

  /** Every module below (and including) this one, keyed by dotted path ("" for this one). */
  namedModules(prefix = ''): Map<string, Module> {
    const out = new Map<string, Module>([[prefix, this]]);
    for (const [name, child] of this.childrenByName) {
      for (const [path, m] of child.namedModules(prefix ? `${prefix}.${name}` : name)) out.set(path, m);
    }
    return out;
  }

  /** Every parameter below this module, keyed by dotted Hugging Face name. */
  namedParameters(prefix = ''): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, v] of this.paramsByName) out.set(prefix ? `${prefix}.${name}` : name, v);
    for (const [name, child] of this.childrenByName) {
      for (const [path, v] of child.namedParameters(prefix ? `${prefix}.${name}` : name)) out.set(path, v);
    }
    return out;
  }

  /** Parameters that receive gradients (`variable.trainable`). */
  trainableParameters(): Map<string, tf.Variable> {
    return new Map([...this.namedParameters()].filter(([, v]) => v.trainable));
  }

  /** Freezes or unfreezes every parameter below this module. */
  setTrainable(trainable: boolean): void {
    for (const v of this.namedParameters().values()) v.trainable = trainable;
  }

  /** Frees every parameter below this module and whatever else each module owns (`releaseResources`). */
  dispose(): void {
    for (const v of this.namedParameters().values()) v.dispose();
    for (const m of this.namedModules().values()) m.releaseResources();
  }

  /** Memory a module owns beside its parameters (frozen weights outside the heap); freed by `dispose`. */
  protected releaseResources(): void {}
}

/** Walks a dotted path ("h.0.attn") from a root module. */
export function getModule(root: Module, path: string): Module {
  let m = root;
  if (path === '') return m;
  for (const part of path.split('.')) {
    const next = m.children().get(part);
    if (next === undefined) throw new Error(`no module "${part}" in path "${path}"`);
    m = next;
  }
  return m;
}
