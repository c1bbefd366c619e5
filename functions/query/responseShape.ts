import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { ResultShapeError } from "./rows";

const QUERY_PATH = /\/query$/;

// What is wrong with a 200 answer's body, if anything: the SDK reads `tables` without checking
// and fails with "Cannot read properties of undefined", which names nothing.
function shapeProblem(body: string | undefined | null): string | undefined {
  if (!body?.trim()) return "with an empty body";
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return "with a body that is not JSON";
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return "with JSON that is not an object";
  }
  const tables: unknown = (json as { tables?: unknown }).tables;
  if (!Array.isArray(tables)) return "without a 'tables' array";
  const bad = tables.findIndex(
    (t: unknown) =>
      typeof t !== "object" ||
      t === null ||
      !Array.isArray((t as { columns?: unknown }).columns) ||
      !Array.isArray((t as { rows?: unknown }).rows),
  );
  return bad < 0 ? undefined : `with table ${bad} lacking a 'columns' or 'rows' array`;
}

/**
 * Checks a successful query answer before the SDK parses it, so a broken one (an empty body,
 * `{}`) fails the run with a message saying what was wrong instead of a TypeError.
 */
export function queryResponseShapePolicy(): PipelinePolicy {
  return {
    name: "queryResponseShapePolicy",
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status !== 200 || !QUERY_PATH.test(new URL(request.url).pathname)) {
        return response;
      }
      const problem = shapeProblem(response.bodyAsText);
      if (problem === undefined) return response;
      throw new ResultShapeError(
        `Log Analytics answered HTTP 200 ${problem}, not a query result (JSON with a 'tables' array)`,
      );
    },
  };
}
