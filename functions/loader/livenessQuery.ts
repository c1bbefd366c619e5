// Build-time half of the table-liveness check (functions/query/tableLiveness.ts): each rule's own
// liveness query, the template functions/query/table-liveness.kql with its union's tables
// replaced by the tables the rule reads. Done on Kusto.Language's syntax tree: the template's
// `union` operand list is found as a node and its span replaced, and the result is analysed
// against the table schemas like every engine query.
import { readFileSync } from "node:fs";
import { inspectKql, kqlSyntaxTree, type TableSchema } from "../../sandbox/kusto";
import { LIVENESS_TEMPLATE_FILE } from "../query/livenessTemplate";
import { childByRole, descendants } from "./syntax";

/**
 * The liveness query of a rule reading `ruleTables`, checked clean against `schemas`; throws if
 * the template has no `union` or the result does not analyse clean (a build-time fault).
 */
export function livenessQueryFor(
  ruleTables: readonly string[],
  schemas: readonly TableSchema[],
  template: string = readFileSync(LIVENESS_TEMPLATE_FILE, "utf8"),
): string {
  const tree = kqlSyntaxTree(template, schemas);
  const union = [...descendants(tree.root)].find((n) => n.kind === "UnionOperator");
  const operands = union && childByRole(union, "Expressions");
  if (!operands) throw new Error(`${LIVENESS_TEMPLATE_FILE} has no union of tables to replace`);
  const query =
    template.slice(0, operands.start) + ruleTables.join(", ") + template.slice(operands.end);
  const problems = inspectKql(query, schemas).diagnostics;
  if (problems.length > 0) {
    throw new Error(`the liveness query for ${ruleTables.join(", ")}: ${problems[0].message}`);
  }
  return query;
}
