// photon-bundle load check: run in a fresh `node --require guard.js check.js SPEC` with the artifact
// unpacked as the platform lays it out. It requires each entry point the platform calls, then the Prisma
// client from there, and emulates the client's engine lookup (Prisma 6: FACTS.md section 4) from where the
// client really resolved. It reports JSON events on stdout (lines starting with the marker); the Python side
// (bundler/loadcheck.py) turns them into the manifest and the error message. Plain ES2015 and old APIs only:
// the runtime's own Node (8 and later) may run this inside its build image.
'use strict';
var fs = require('fs');
var path = require('path');
var url = require('url');

var state = global.__photonLoadCheck;
var report = state.report;
var spec = JSON.parse(process.argv[2]);
var root = spec.root;
var failed = false;

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

function engineLookup(clientDir, engine) {
  // Prisma's order: the env variable, then the generated client's folder, its parent, ../../../.prisma/client
  // (relative to that folder), /tmp/prisma-engines, the working folder. The generator's `output` is the build
  // machine's absolute path: on the platform it is the client's folder or does not exist.
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
  dirs.push(['the generated client\'s folder', clientDir]);
  dirs.push(['its parent folder', path.dirname(clientDir)]);
  dirs.push(['../../../.prisma/client', path.resolve(clientDir, '../../../.prisma/client')]);
  dirs.push(['/tmp/prisma-engines', translate('/tmp/prisma-engines')]);
  dirs.push(['the working folder', process.cwd()]);
  dirs.forEach(function (pair) {
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
    } else {
      clientDir = path.join(root, client.path);
      mainFile = resolveFrom(root, clientDir);
    }
    where.client = clientDir;
    require(mainFile);
  } catch (err) {
    where.error = errorEvent(err);
    fail(Object.assign({ event: 'client-fail' }, where));
    return;
  }
  report(Object.assign({ event: 'client' }, where));
  if (!spec.engine) return;
  var result = engineLookup(clientDir, spec.engine);
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
  });
}

process.on('unhandledRejection', function (reason) {
  report({ event: 'async-error', message: String(reason && reason.message || reason).split('\n')[0] });
});
process.on('uncaughtException', function (err) {
  report({ event: 'async-error', message: String(err && err.message || err).split('\n')[0] });
});

run().then(function () {
  state.loading = false;
  report({ event: 'done', ok: !failed });
  state.realExit(failed ? 3 : 0);
}, function (err) {
  state.loading = false;
  report({ event: 'crash', message: String(err && err.stack || err) });
  state.realExit(4);
});
