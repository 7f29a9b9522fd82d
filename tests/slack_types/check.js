// Type-checks TypeScript projects as `tsc -p TSCONFIG` would, with the pinned compiler of this folder, and stays up:
// one JSON line {"project": "/path/to/tsconfig.json"} per check on stdin, one JSON line
// {"status": 0 | 2, "output": "..."} on stdout, in tsc's own status and plain (non-pretty) diagnostic format.
// What does not change between checks (TypeScript's standard library, @slack/types) is parsed once and kept;
// the project's own files are read fresh each time. Used by tests/adapters/slack/test_payload_types.py through
// tests/support/node_checker.py (`--serve`).
"use strict";
const path = require("path");
const readline = require("readline");
const ts = require(path.join(__dirname, "node_modules", "typescript"));

const kept = new Map(); // declaration files (.d.ts) of the standard library and of node_modules, parsed once
// diagnostics name files relative to the project's folder, as tsc run there does
const formatHostIn = (folder) => ({
  getCanonicalFileName: (name) => name,
  getCurrentDirectory: () => folder,
  getNewLine: () => "\n",
});

function hostFor(options) {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (!fileName.endsWith(".d.ts")) {
      return read(fileName, languageVersion, onError, shouldCreate);
    }
    const key = `${fileName}\0${JSON.stringify(languageVersion)}`;
    if (!kept.has(key)) {
      kept.set(key, read(fileName, languageVersion, onError, shouldCreate));
    }
    return kept.get(key);
  };
  return host;
}

function check(project) {
  const formatHost = formatHostIn(path.dirname(project));
  const configErrors = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(project, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => configErrors.push(d),
  });
  if (!parsed) {
    return { status: 1, output: ts.formatDiagnostics(configErrors, formatHost) };
  }
  const program = ts.createProgram({
    rootNames: parsed.fileNames,
    options: parsed.options,
    projectReferences: parsed.projectReferences,
    host: hostFor(parsed.options),
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
  });
  const diagnostics = [
    ...configErrors,
    ...program.getConfigFileParsingDiagnostics(),
    ...ts.getPreEmitDiagnostics(program),
  ];
  // tsc's exit status: 0 clean, 2 when there are errors and (with noEmit) nothing is written
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  return { status: errors.length ? 2 : 0, output: ts.formatDiagnostics(diagnostics, formatHost) };
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let answer;
  try {
    answer = check(JSON.parse(line).project);
  } catch (error) {
    answer = { status: 1, output: `the checker failed: ${error && error.stack ? error.stack : error}` };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
