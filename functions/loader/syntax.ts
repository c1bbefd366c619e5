import type { KqlNode } from "../../sandbox/kusto";

// Small readers over Kusto.Language's syntax tree (sandbox/kusto.ts hands it over as plain
// objects). Node kinds and child roles are Kusto.Language's own names.

/** The child playing a role ("Left", "Condition", "Expression"...) in its parent. */
export function childByRole(node: KqlNode, role: string): KqlNode | undefined {
  return node.children.find((c) => c?.role === role);
}

/** The items of a list node, unwrapping the separated elements (`a, b`) to their expressions. */
export function listItems(list: KqlNode | undefined): KqlNode[] {
  if (!list) return [];
  return list.children
    .filter((c): c is KqlNode => c !== undefined && !c.isToken)
    .map((c) => (c.kind === "SeparatedElement" ? (c.children[0] ?? c) : c));
}

/** Every node under (and including) `node`, depth first. */
export function* descendants(node: KqlNode): Generator<KqlNode> {
  yield node;
  for (const child of node.children) if (child) yield* descendants(child);
}

/** The node's text in the query, without its leading trivia (spaces, comments). */
export function textOf(query: string, node: KqlNode): string {
  return query.slice(node.start, node.end);
}

/** For a call `f(...)`: the function's name; otherwise undefined. */
export function calledFunction(query: string, node: KqlNode): string | undefined {
  if (node.kind !== "FunctionCallExpression") return undefined;
  const name = childByRole(node, "Name");
  return name ? textOf(query, name) : undefined;
}

/** For a plain column or let reference: its name; otherwise undefined. */
export function referencedName(query: string, node: KqlNode): string | undefined {
  return node.kind === "NameReference" ? textOf(query, node) : undefined;
}

/** The top-level operands of a chain of `and`s (through parentheses around a single `and`). */
export function conjuncts(node: KqlNode): KqlNode[] {
  if (node.kind === "AndExpression") {
    const left = childByRole(node, "Left");
    const right = childByRole(node, "Right");
    return [...(left ? conjuncts(left) : []), ...(right ? conjuncts(right) : [])];
  }
  return [node];
}

/** A tabular pipeline `source | op | op ...` taken apart: its source and its operators, in order. */
export function pipelineParts(expression: KqlNode): { source: KqlNode; operators: KqlNode[] } {
  const operators: KqlNode[] = [];
  let node = expression;
  while (node.kind === "PipeExpression") {
    const operator = childByRole(node, "Operator");
    const left = childByRole(node, "Expression");
    if (!operator || !left) break;
    operators.unshift(operator);
    node = left;
  }
  return { source: node, operators };
}
