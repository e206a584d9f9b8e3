// photon-bundle load check: run in a fresh `node --require guard.js check.js SPEC` with the artifact
// unpacked as the platform lays it out. It requires each entry point the platform calls, then the Prisma
// client from there, and emulates the client's engine lookup (Prisma 4.16-6.19: engineLookup below) from where the
// client really resolved. It reports JSON events on stdout (lines starting with the marker); the Python side
// (bundler/loadcheck.py) turns them into the manifest and the error message. Plain ES2015 and old APIs only:
// the runtime's own Node (8 and later) may run this inside its build image.
//
// Asynchronous failures count: Prisma 5's `new PrismaClient()` returns at once and loads its engine in a
// promise (LibraryEngine.libraryInstantiationPromise: platform detection, resolveEnginePath, dlopen, then the
// engine's QueryEngine constructor), so an engine that cannot load surfaces as an unhandled rejection after the
// entry point has loaded; on Lambda the runtime then exits (Runtime.UnhandledPromiseRejection). The check
// constructs the real client itself and awaits that promise when it runs on the platform's own target (the
// client's own platform detection says so: inside the runtime's image, or a machine of that target), lets the
// entry points' asynchronous work settle (until the event loop is idle, at most spec.settleMs), and fails on any
// unhandled rejection or uncaught exception. One is only noted: the real client's "could not locate the Query
// Engine for runtime X" when X is this machine's target and not the platform's, which cannot happen there (the
// lookup for the platform's target is the emulation in engineLookup).
'use strict';
var fs = require('fs');
var path = require('path');
var url = require('url');

var state = global.__photonLoadCheck;
var report = state.report;
var spec = JSON.parse(process.argv[2]);
var root = spec.root;
var failed = false;
var lastEntry = null; // the entry point loaded last: an asynchronous error shows after its require returned
var engineLoads = []; // generated clients whose real runtime loads its engine (constructed after the lookups)

function fail(event) {
  failed = true;
  report(event);
}

function errorEvent(err) {
  var out = { code: err && err.code, message: String(err && err.message || err).split('\n')[0] };
  if (err && err.code === 'MODULE_NOT_FOUND') {
    var m = /Cannot find module '([^']+)'/.exec(String(err.message));
    out.missing = m ? m[1] : null;
    var stack = err.requireStack;
    if (!stack) {
      var text = String(err.message);
      var at = text.indexOf('Require stack:');
      stack = at < 0 ? [] : text.slice(at).split('\n').slice(1).map(function (l) { return l.replace(/^- /, ''); })
        .filter(Boolean);
    }
    out.requireStack = stack.filter(function (p) { return p.indexOf(spec.tools + '/') !== 0; });
  } else if (err && err.stack) {
    out.stack = String(err.stack).split('\n').filter(function (l) { return l.indexOf(spec.tools + '/') < 0; })
      .slice(0, 8);
  }
  return out;
}

function isEsm(file) {
  if (/\.mjs$/.test(file)) return true;
  if (!/\.js$/.test(file)) return false;
  var dir = path.dirname(file);
  while (dir.indexOf(root) === 0) {
    var pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try { return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module'; } catch (e) { return false; }
    }
    if (dir === root) break;
    dir = path.dirname(dir);
  }
  return false;
}

function load(file) {
  if (!isEsm(file)) {
    try {
      return Promise.resolve(require(file));
    } catch (err) {
      if (!err || err.code !== 'ERR_REQUIRE_ESM') return Promise.reject(err);
    }
  }
  // eval: keeps `import()` out of the parser of Node versions that predate it
  return (0, eval)('(function (u) { return import(u); })')(url.pathToFileURL(file).href);
}

function resolveFrom(dir, request) {
  return require.resolve(request, { paths: [dir] });
}

function packageDir(file, name) {
  var dir = path.dirname(file);
  for (;;) {
    var pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try { if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === name) return dir; } catch (e) { /* keep going */ }
    }
    var up = path.dirname(dir);
    if (up === dir || path.basename(dir) === 'node_modules') return path.dirname(file);
    dir = up;
  }
}

function translate(value) {
  // an absolute platform path (/opt/...) as it is in the stand-in folders of this check
  var maps = spec.pathMap || [];
  for (var i = 0; i < maps.length; i++) {
    if (value === maps[i][0] || value.indexOf(maps[i][0] + '/') === 0) return maps[i][1] + value.slice(maps[i][0].length);
  }
  return value;
}

function real(p) {
  try { return fs.realpathSync(p); } catch (e) { return p; }
}

// The runtime a generated client loads its engine lookup from: Prisma 4-6 keep `resolveEnginePath` in
// @prisma/client/runtime/library.js (binary.js for the binary engine; index.js in 4.x), or in the `runtime/`
// copied beside a custom `output`. Read in 4.16.2, 5.22.0 and 6.19.0.
var RUNTIME = /[\\/]runtime[\\/](library|binary|index)\.m?js$/;
var LOOKUP = /resolve\((?:dirname|__dirname),\s*"\.\.\/\.\.\/\.\.\/\.prisma\/client"\)\s*,\s*"\/tmp\/prisma-engines"/;

function loadedRuntime(mainFile) {
  var seen = {};
  var queue = [require.cache[mainFile]];
  while (queue.length) {
    var mod = queue.shift();
    if (!mod || seen[mod.filename]) continue;
    seen[mod.filename] = true;
    if (RUNTIME.test(mod.filename)) return mod.filename;
    if (mod.filename.indexOf('/node_modules/') >= 0 && mod !== require.cache[mainFile] &&
        path.dirname(mod.filename) !== path.dirname(mainFile)) continue; // only the client's own requires
    queue.push.apply(queue, mod.children || []);
  }
  return null;
}

// The same lookup inside a bundle (esbuild, webpack): the runtime's code is in the bundle, where a minifier may
// have renamed the variable that holds `eval("__dirname")`, which is then the bundle's own folder.
var BUNDLED_LOOKUP = /resolve\([\w$]+,\s*"\.\.\/\.\.\/\.\.\/\.prisma\/client"\)\s*,\s*"\/tmp\/prisma-engines"/;

function generatedConfig(mainFile, clientDir, bundled) {
  // What the generated index.js puts in its config (Prisma 4-6): `dirname` (its own folder, or under the
  // working folder when its schema.prisma is not beside it), the generator's `output` (the build machine's
  // absolute path) and `relativePath` (to the schema folder, which becomes the client's `cwd`).
  // In a bundle, the generated index.js and the runtime are both inlined: `__dirname` is the bundle's folder.
  var runtime = bundled ? mainFile : loadedRuntime(mainFile);
  if (!runtime) return null;
  try {
    // the order below is this runtime's: its resolveEnginePath lists ../../../.prisma/client, /tmp/prisma-engines
    if (!(bundled ? BUNDLED_LOOKUP : LOOKUP).test(fs.readFileSync(runtime, 'utf8'))) return null;
  } catch (e) {
    return null;
  }
  var text = '';
  try { text = fs.readFileSync(mainFile, 'utf8'); } catch (e) { /* keep the defaults */ }
  var output = /"output":\s*\{\s*"value":\s*("(?:[^"\\]|\\.)*")/.exec(text);
  var relative = /"relativePath":\s*("(?:[^"\\]|\\.)*")/.exec(text);
  var dirname = clientDir;
  if (text.indexOf('alternativePaths') >= 0 && !fs.existsSync(path.join(clientDir, 'schema.prisma'))) {
    var alts = ['node_modules/.prisma/client', '.prisma/client'].filter(function (alt) {
      return fs.existsSync(path.join(process.cwd(), alt, 'schema.prisma'));
    });
    dirname = path.join(process.cwd(), alts.length ? alts[0] : 'node_modules/.prisma/client');
  }
  var cwd = dirname;
  if (relative && fs.existsSync(path.resolve(dirname, JSON.parse(relative[1])))) {
    cwd = path.resolve(dirname, JSON.parse(relative[1]));
  }
  return { runtimeDir: path.dirname(runtime), output: output ? JSON.parse(output[1]) : null, dirname: dirname,
    cwd: cwd };
}

function engineLookup(clientDir, engine, config) {
  // Prisma's order (resolveEnginePath in @prisma/client/runtime/library.js, 4.16-6.19): the env variable, then
  // config.dirname (the generated client's folder), the runtime's parent (the @prisma/client folder), the
  // generator's `output`, ../../../.prisma/client from the runtime, /tmp/prisma-engines, config.cwd (the
  // schema folder). The `output` is the build machine's absolute path: searched only when it is inside the
  // artifact's root (a build in /var/task), as on the platform nothing else is there. Without a loaded
  // runtime whose lookup reads so (an older or stand-in client) the same order is taken from the generated
  // client's folder.
  var searched = [];
  var found = [];
  var fromEnv = process.env[engine.envVar];
  if (fromEnv) {
    var p = translate(fromEnv);
    searched.push({ where: 'env ' + engine.envVar, path: fromEnv });
    if (!fs.existsSync(p)) {
      return { searched: searched, found: [], envMissing: fromEnv };
    }
    return { searched: searched, found: [{ where: 'env ' + engine.envVar, path: real(p) }] };
  }
  var dirs = [];
  (engine.extraDirs || []).forEach(function (d) { dirs.push(['the client\'s ' + d + ' folder', path.join(clientDir, d)]); });
  if (config) {
    dirs.push(['the generated client\'s folder', config.dirname]);
    dirs.push(['the @prisma/client folder (the runtime\'s parent)', path.dirname(config.runtimeDir)]);
    if (config.output && (config.output === root || config.output.indexOf(root + '/') === 0)) {
      dirs.push(['the generator\'s output', config.output]);
    }
    dirs.push(['../../../.prisma/client from the runtime', path.resolve(config.runtimeDir, '../../../.prisma/client')]);
    dirs.push(['/tmp/prisma-engines', translate('/tmp/prisma-engines')]);
    dirs.push(['the schema folder (the client\'s cwd)', config.cwd]);
  } else {
    dirs.push(['the generated client\'s folder', clientDir]);
    dirs.push(['its parent folder', path.dirname(clientDir)]);
    dirs.push(['../../../.prisma/client', path.resolve(clientDir, '../../../.prisma/client')]);
    dirs.push(['/tmp/prisma-engines', translate('/tmp/prisma-engines')]);
    dirs.push(['the working folder', process.cwd()]);
  }
  dirs.forEach(function (pair) {
    if (searched.some(function (s) { return s.path === pair[1]; })) return;
    searched.push({ where: pair[0], path: pair[1] });
    engine.names.forEach(function (name) {
      var candidate = path.join(pair[1], name);
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
        var r = real(candidate);
        if (!found.some(function (f) { return f.path === r; })) found.push({ where: pair[0], path: r });
      }
    });
  });
  return { searched: searched, found: found };
}

function checkClient(fromDir, client) {
  var where = { from: fromDir, kind: client.kind };
  var clientDir;
  var mainFile;
  try {
    if (client.kind === 'prisma') {
      var pc = resolveFrom(fromDir, '@prisma/client');
      var pcDir = real(packageDir(pc, '@prisma/client'));
      where.package = pcDir;
      require(real(pc)); // a missing generated client shows here, with node's own require stack
      mainFile = real(resolveFrom(pcDir, '.prisma/client'));
      var at = mainFile.lastIndexOf('/.prisma/client/');
      clientDir = at < 0 ? path.dirname(mainFile) : mainFile.slice(0, at + '/.prisma/client'.length);
    } else if (client.kind === 'module') {
      mainFile = real(resolveFrom(fromDir, client.module));
      clientDir = real(packageDir(mainFile, client.module));
      var cut = clientDir.lastIndexOf('/node_modules/' + client.module);
      if (cut >= 0) clientDir = clientDir.slice(0, cut) + '/node_modules/' + client.module;
    } else if (client.kind === 'bundled') {
      // the client's code is inside this bundle (--bundler esbuild, --prebuilt): it was required as an entry
      // point (or is here), and its `__dirname` is the bundle's folder
      mainFile = path.join(root, client.path);
      clientDir = path.dirname(mainFile);
    } else {
      clientDir = path.join(root, client.path);
      mainFile = resolveFrom(root, clientDir);
    }
    where.client = clientDir;
    if (client.kind !== 'bundled' || !isEsm(mainFile)) require(mainFile);
  } catch (err) {
    where.error = errorEvent(err);
    fail(Object.assign({ event: 'client-fail' }, where));
    return;
  }
  report(Object.assign({ event: 'client' }, where));
  if (!spec.engine) return;
  var config = mainFile ? generatedConfig(mainFile, clientDir, client.kind === 'bundled') : null;
  // the real client is constructed once the lookups are done (loadEngine); a bundled client's code is the
  // bundle itself, whose exports are the entry point's, not the client's
  if (config && client.kind !== 'bundled' && !engineLoads.some(function (l) { return l.mainFile === mainFile; })) {
    engineLoads.push({ mainFile: mainFile, client: clientDir });
  }
  var result = engineLookup(clientDir, spec.engine, config);
  var bundled = real(spec.engine.path);
  var event = { event: 'engine', client: clientDir, searched: result.searched, found: result.found,
    bundled: spec.engine.path };
  if (result.envMissing) {
    event.problem = 'env-missing';
  } else if (!result.found.length) {
    event.problem = 'not-found';
  } else if (result.found[0].path !== bundled) {
    event.problem = 'other-first';
  } else if (spec.engine.kind === 'binary') {
    try { fs.accessSync(bundled, fs.constants ? fs.constants.X_OK : 1); } catch (e) { event.problem = 'not-executable'; }
  }
  if (event.problem) fail(Object.assign(event, { event: 'engine-fail' })); else report(event);
}

var QUERY_ENGINE_FOR = /could not locate the Query Engine for runtime "([^"]+)"/;

function offPlatform(message) {
  // the real client's lookup failed for this machine's target, which is not the platform's
  var m = QUERY_ENGINE_FOR.exec(message);
  return !!(m && spec.engine && (spec.engine.targets || []).indexOf(m[1]) < 0) ? m[1] : null;
}

function loadEngine(item) {
  // Construct the real client and await its engine loading (Prisma 5's LibraryEngine); no query is sent and the
  // guard keeps any connection from opening.
  var client;
  var engine;
  try {
    var PrismaClient = require(item.mainFile).PrismaClient;
    if (typeof PrismaClient !== 'function') return Promise.resolve();
    client = new PrismaClient();
    engine = client._engine;
  } catch (err) {
    fail({ event: 'engine-load-fail', client: item.client, stage: 'construct', error: errorEvent(err),
      bundled: spec.engine.path });
    return Promise.resolve();
  }
  if (!engine || !engine.libraryInstantiationPromise || typeof engine.getCurrentBinaryTarget !== 'function') {
    report({ event: 'engine-load-skipped', client: item.client,
      reason: 'the client loads its engine only when it connects (' + (engine && engine.name || 'no engine') + ')' });
    return Promise.resolve();
  }
  var pending = engine.libraryInstantiationPromise;
  pending.catch(function () { /* judged below: never left unhandled */ });
  return Promise.resolve().then(function () { return engine.getCurrentBinaryTarget(); }).then(function (target) {
    if ((spec.engine.targets || []).indexOf(target) < 0) {
      report({ event: 'engine-load-skipped', client: item.client, target: target,
        reason: 'this machine is ' + target + ', the platform ' + (spec.engine.targets || []).join(', ') });
      return null;
    }
    return pending.then(function () {
      var loaded = real(String(engine.config && engine.config.prismaPath || ''));
      if (loaded !== real(spec.engine.path)) {
        fail({ event: 'engine-load-fail', client: item.client, stage: 'other-file', target: target, loaded: loaded,
          bundled: spec.engine.path });
      } else {
        report({ event: 'engine-loaded', client: item.client, target: target, path: loaded,
          version: engine.versionInfo || null });
      }
    }, function (err) {
      fail({ event: 'engine-load-fail', client: item.client, stage: 'load', target: target, error: errorEvent(err),
        bundled: spec.engine.path });
    });
  }, function (err) {
    report({ event: 'engine-load-skipped', client: item.client,
      reason: 'the client cannot tell this machine\'s target: ' + String(err && err.message || err).split('\n')[0] });
  });
}

function settle() {
  // Let what the entry points started finish: until the event loop is idle, or spec.settleMs at most (a timer
  // or a guarded server may keep it busy for ever).
  return new Promise(function (resolve) {
    var done = false;
    function finish() {
      if (!done) { done = true; resolve(); }
    }
    process.once('beforeExit', finish);
    var timer = setTimeout(finish, spec.settleMs || 2000);
    if (timer.unref) timer.unref();
  });
}

function asyncError(kind, reason) {
  var message = String(reason && reason.message || reason).split('\n')[0];
  var machine = offPlatform(String(reason && reason.message || reason));
  var event = { event: 'async-error', kind: kind, after: lastEntry, message: message };
  if (reason && reason.stack) event.stack = errorEvent(reason).stack;
  if (machine) {
    report(Object.assign(event, { offPlatform: machine }));
  } else {
    fail(Object.assign(event, { event: 'async-fail' }));
  }
}

function walk(value, dotted) {
  // Lambda's handler export may be a path: file.routes.get
  return dotted.split('.').reduce(function (v, key) { return v == null ? undefined : v[key]; }, value);
}

function run() {
  report({ event: 'start', node: process.version, cwd: process.cwd(), arch: process.arch });
  var chain = Promise.resolve();
  spec.entries.forEach(function (entry) {
    chain = chain.then(function () {
      var file = path.join(root, entry.path);
      report({ event: 'entry-start', path: entry.path });
      lastEntry = entry.path;
      return load(file).then(function (mod) {
        var names = mod && (typeof mod === 'object' || typeof mod === 'function') ? Object.keys(mod).slice(0, 20) : [];
        if (entry.export) {
          var fn = walk(mod, entry.export);
          if (fn === undefined && mod && mod['default']) fn = walk(mod['default'], entry.export);
          if (typeof fn !== 'function') {
            fail({ event: 'export-fail', path: entry.path, export: entry.export, exports: names });
            return;
          }
        }
        report({ event: 'entry-ok', path: entry.path, exports: names });
      }, function (err) {
        fail(Object.assign({ event: 'entry-fail', path: entry.path }, errorEvent(err)));
      });
    });
  });
  return chain.then(function () {
    var from = {};
    spec.clients.forEach(function (client) {
      (spec.clientFrom.length ? spec.clientFrom : ['.']).forEach(function (dir) {
        var abs = path.join(root, dir);
        if (from[abs + '|' + JSON.stringify(client)]) return;
        from[abs + '|' + JSON.stringify(client)] = true;
        checkClient(abs, client);
      });
    });
  }).then(function () {
    var loads = spec.engine && spec.engine.kind === 'library' ? engineLoads : [];
    return loads.reduce(function (chain2, item) {
      return chain2.then(function () { return loadEngine(item); });
    }, Promise.resolve());
  }).then(settle);
}

process.on('unhandledRejection', function (reason) { asyncError('unhandled rejection', reason); });
process.on('uncaughtException', function (err) { asyncError('uncaught exception', err); });

run().then(function () {
  state.loading = false;
  report({ event: 'done', ok: !failed });
  state.realExit(failed ? 3 : 0);
}, function (err) {
  state.loading = false;
  report({ event: 'crash', message: String(err && err.stack || err) });
  state.realExit(4);
});
