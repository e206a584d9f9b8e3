// photon-bundle load check: preloaded with `node --require guard.js` before any file of the artifact runs.
// Shipped inside the Python package (bundler/_node/); written out to a temp folder for each check.
//
// What it does, so that requiring an entry point cannot run the user's server or reach a database:
//  - net.Server#listen (http, https, express' app.listen ...) binds nothing and calls nothing back;
//  - net.Socket#connect (net/tls/http(s) clients, database drivers) opens no connection and stays pending;
//  - dgram sockets neither bind, connect nor send;
//  - process.exit while the entry points load is ignored;
// each of these is reported (an "guard" event), never fatal.
//  - module lookup: only folders inside the unpacked artifact (and the stand-in /opt of its layer) are
//    searched, so nothing of this machine (~/.node_modules, /usr/lib/node, a node_modules above the temp
//    folder) can make a broken bundle look whole;
//  - modules the platform's runtime provides (aws-sdk on Lambda) resolve to a stub when the bundle lacks them.
'use strict';
var fs = require('fs');
var path = require('path');
var net = require('net');
var dgram = require('dgram');
var Module = require('module');

var MARK = '@@photon-loadcheck@@ ';
var roots = JSON.parse(process.env.PHOTON_LOADCHECK_ROOTS || '[]');
var provided = JSON.parse(process.env.PHOTON_LOADCHECK_PROVIDED || '[]');
var stub = path.join(__dirname, 'provided.js');

function report(event) {
  try {
    fs.writeSync(1, MARK + JSON.stringify(event) + '\n');
  } catch (err) {
    // stdout closed: nothing to report to
  }
}

function inside(dir) {
  for (var i = 0; i < roots.length; i++) {
    if (dir === roots[i] || dir.indexOf(roots[i] + path.sep) === 0) return true;
  }
  return false;
}

function describe(args) {
  var first = args[0];
  if (first && typeof first === 'object') {
    if (Array.isArray(first)) first = first[0];
    if (first && typeof first === 'object') {
      return JSON.stringify({ host: first.host, port: first.port, path: first.path });
    }
  }
  if (typeof first === 'function') return '(no address)';
  return JSON.stringify(args.filter(function (a) { return typeof a !== 'function'; }).slice(0, 2));
}

var state = { loading: true, realExit: process.exit.bind(process), report: report };
Object.defineProperty(global, '__photonLoadCheck', { value: state, enumerable: false });

net.Server.prototype.listen = function () {
  report({ event: 'guard', what: 'listen', detail: describe([].slice.call(arguments)) });
  return this;
};
net.Socket.prototype.connect = function () {
  report({ event: 'guard', what: 'connect', detail: describe([].slice.call(arguments)) });
  return this;
};
['bind', 'connect', 'send'].forEach(function (name) {
  if (typeof dgram.Socket.prototype[name] !== 'function') return;
  dgram.Socket.prototype[name] = function () {
    report({ event: 'guard', what: 'udp ' + name, detail: describe([].slice.call(arguments)) });
    return this;
  };
});
process.exit = function (code) {
  if (!state.loading) return state.realExit(code);
  report({ event: 'guard', what: 'process.exit', detail: String(code === undefined ? 0 : code) });
  return undefined;
};

if (roots.length) {
  var findPath = Module._findPath;
  Module._findPath = function (request, paths, isMain) {
    return findPath.call(this, request, (paths || []).filter(inside), isMain);
  };
}

if (provided.length) {
  var resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, parent) {
    try {
      return resolveFilename.apply(this, arguments);
    } catch (err) {
      var name = request.split('/').slice(0, request.charAt(0) === '@' ? 2 : 1).join('/');
      var wanted = provided.some(function (p) { return p.slice(-1) === '/' ? name.indexOf(p) === 0 : name === p; });
      if (err && err.code === 'MODULE_NOT_FOUND' && wanted) {
        report({ event: 'provided', module: request });
        return stub;
      }
      throw err;
    }
  };
}
