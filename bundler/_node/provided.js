// photon-bundle load check: a stand-in for a module the platform's runtime provides (aws-sdk on Lambda)
// and the bundle does not carry. Anything read from it is another stand-in; nothing runs.
'use strict';
function standIn() { return proxy; }
var proxy = new Proxy(standIn, {
  get: function (target, key) {
    if (key === 'then' || key === '__esModule') return undefined;
    return key === Symbol.toPrimitive ? function () { return ''; } : proxy;
  },
  apply: function () { return proxy; },
  construct: function () { return proxy; }
});
module.exports = proxy;
