import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';

/**
 * Convention 8: only src/config reads `process.env`; everything else receives validated config.
 * dependency-cruiser (`npm run lint:deps`) sees imports, not property reads, so this check walks the
 * syntax tree instead: comments and strings that mention the variable are not reads, and every
 * spelling of one is (`process.env.X`, `process['env']`, `const { env } = process`,
 * `import { env } from 'node:process'`).
 */
const SRC = join(__dirname, '..');
const ALLOWED = join(SRC, 'config');
const PROCESS_MODULES = new Set(['process', 'node:process']);

interface EnvRead {
  file: string;
  line: number;
  code: string;
}

function envReads(file: string, text: string): EnvRead[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  // `process`, or what an import of the 'process' module is called in this file.
  const processNames = new Set(['process']);
  const reads: ts.Node[] = [];

  const isProcess = (node: ts.Expression): boolean =>
    (ts.isIdentifier(node) && processNames.has(node.text)) ||
    (ts.isPropertyAccessExpression(node) && node.expression.getText(source) === 'globalThis' && node.name.text === 'process');

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && PROCESS_MODULES.has(node.moduleSpecifier.text)) {
      const clause = node.importClause;
      if (clause?.name) processNames.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) processNames.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings) && bindings.elements.some((e) => (e.propertyName ?? e.name).text === 'env')) reads.push(node);
    } else if (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) {
      reads.push(node);
    } else if (ts.isElementAccessExpression(node) && isProcess(node.expression) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'env') {
      reads.push(node);
    } else if (ts.isVariableDeclaration(node) && ts.isObjectBindingPattern(node.name) && node.initializer && isProcess(node.initializer)) {
      const names = node.name.elements.map((e) => (e.propertyName ?? e.name).getText(source));
      if (names.includes('env')) reads.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);

  return reads.map((node) => ({
    file,
    line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
    code: node.getText(source),
  }));
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('only src/config reads process.env', () => {
  it('finds a read in every spelling, and not in comments or strings', () => {
    const code = [
      "import proc from 'node:process';",
      "import { env as environment } from 'process';",
      'const a = process.env.REDIS_URL;',
      "const b = process['env'];",
      'const { env, pid } = process;',
      'const { env: renamed } = globalThis.process;',
      'const c = proc.env;',
      '// process.env.IN_A_COMMENT',
      "const d = 'process.env.IN_A_STRING';",
      'const e = process.stdout.isTTY && config.env && this.process.env;',
    ].join('\n');
    expect(envReads('example.ts', code).map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('holds for every file under src/ outside src/config', () => {
    const offenders = typeScriptFiles(SRC)
      .filter((file) => !file.startsWith(ALLOWED + '/'))
      .flatMap((file) => envReads(file, readFileSync(file, 'utf8')))
      .map((read) => `${relative(join(SRC, '..'), read.file)}:${read.line}  ${read.code}`);
    expect(offenders).toEqual([]);
  });
});
