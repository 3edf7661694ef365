// The listeners of managers, sockets and engines: a minimal @socket.io/component-emitter.

export class Emitter {
  on(ev, fn) {
    const all = this._cb || (this._cb = {});
    (all["$" + ev] || (all["$" + ev] = [])).push(fn);
    return this;
  }
  once(ev, fn) {
    const on = (...args) => {
      this.off(ev, on);
      fn.apply(this, args);
    };
    on.fn = fn;
    return this.on(ev, on);
  }
  off(ev, fn) {
    if (!this._cb || !arguments.length) {
      this._cb = {};
      return this;
    }
    const cbs = this._cb["$" + ev];
    if (!cbs) return this;
    if (arguments.length === 1) {
      delete this._cb["$" + ev];
      return this;
    }
    const i = cbs.findIndex((cb) => cb === fn || cb.fn === fn);
    if (i >= 0) cbs.splice(i, 1);
    if (!cbs.length) delete this._cb["$" + ev];
    return this;
  }
  emit(ev, ...args) {
    const cbs = this._cb && this._cb["$" + ev];
    if (cbs) for (const fn of cbs.slice()) fn.apply(this, args);
    return this;
  }
  listeners(ev) {
    return (this._cb && this._cb["$" + ev]) || [];
  }
  hasListeners(ev) {
    return this.listeners(ev).length > 0;
  }
}
const E = Emitter.prototype;
E.addEventListener = E.on;
E.removeListener = E.removeAllListeners = E.removeEventListener = E.off;
E.emitReserved = E.emit;

/** Removes the first `fn` of `list` in place, as socket.io-client's `offAny`: a list read from
 * `listenersAny()` stays the socket's own. */
export const removeFirst = (list, fn) => {
  const i = list.indexOf(fn);
  if (i >= 0) list.splice(i, 1);
};

/** Reports what a listener threw without breaking the driver. */
export function rethrow(e) {
  setTimeout(() => {
    throw e;
  });
}

/** Calls a listener; what it throws is reported without breaking the driver. */
export function guard(fn) {
  try {
    fn();
  } catch (e) {
    rethrow(e);
  }
}
