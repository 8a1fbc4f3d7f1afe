#!/usr/bin/env node
/**
 * `npm run lint:shape`: the shape rules of ../shared/ARCHITECTURE.md that a tool can check, read
 * from the TypeScript syntax tree of src/ (specs excluded):
 *
 * - a Nest provider (`@Injectable()`, or a controller) has at most MAX_COLLABORATORS constructor
 *   parameters: more is a service that knows too much;
 * - a function, method or arrow function spans at most MAX_FUNCTION_LINES lines (the guide's
 *   "~60": the limit leaves room for a long SQL literal, which reads best whole).
 *
 * Prints the largest of each either way (`--top N`, default 8), so the closing note of a change
 * can quote them; exits 1 on a breach.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const MAX_COLLABORATORS = 6;
const MAX_FUNCTION_LINES = 70;
const topIndex = process.argv.indexOf('--top');
const TOP = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 8;

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (name.endsWith('.ts') && !name.endsWith('.spec.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

const decoratorNames = (node) =>
  (ts.canHaveDecorators(node) ? ts.getDecorators(node) ?? [] : []).map((d) =>
    ts.isCallExpression(d.expression) ? d.expression.expression.getText() : d.expression.getText(),
  );

const classes = [];
const functions = [];
for (const file of sourceFiles('src')) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const where = (node) => `${relative('.', file)}:${lineOf(node.getStart(source))}`;
  const visit = (node) => {
    if (ts.isClassDeclaration(node) && decoratorNames(node).some((n) => n === 'Injectable' || n === 'Controller')) {
      const ctor = node.members.find(ts.isConstructorDeclaration);
      classes.push({ name: node.name?.text ?? '(anonymous)', where: where(node), count: ctor?.parameters.length ?? 0 });
    }
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const lines = lineOf(node.getEnd()) - lineOf(node.getStart(source)) + 1;
      const name = node.name?.getText(source) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(source) : '(arrow)');
      functions.push({ name, where: where(node), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

classes.sort((a, b) => b.count - a.count);
functions.sort((a, b) => b.lines - a.lines);
const classBreaches = classes.filter((c) => c.count > MAX_COLLABORATORS);
const functionBreaches = functions.filter((f) => f.lines > MAX_FUNCTION_LINES);

console.log(`Most constructor collaborators (limit ${MAX_COLLABORATORS}):`);
for (const c of classes.slice(0, TOP)) console.log(`  ${String(c.count).padStart(3)}  ${c.name}  ${c.where}`);
console.log(`Longest functions (limit ${MAX_FUNCTION_LINES} lines):`);
for (const f of functions.slice(0, TOP)) console.log(`  ${String(f.lines).padStart(3)}  ${f.name}  ${f.where}`);
for (const c of classBreaches) console.error(`✘ ${c.name} (${c.where}) has ${c.count} constructor collaborators; split it`);
for (const f of functionBreaches) console.error(`✘ ${f.name} (${f.where}) is ${f.lines} lines long; split it`);
if (classBreaches.length || functionBreaches.length) process.exitCode = 1;
else console.log('✔ shape rules hold');
