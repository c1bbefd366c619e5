import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import {
  checkAnalyticRule,
  templateDurationMs,
  type AnalyticRule,
} from "../../functions/detection/analyticRule";
import facts from "../../functions/detection/analytic-rule.facts.json";
import schema from "../../functions/detection/analytic-rule.schema.json";

const RULE_FILE = path.join(__dirname, "../../functions/detections/nbtscan.yaml");
const shipped = parseYaml(readFileSync(RULE_FILE, "utf8")) as AnalyticRule;

/** The shipped rule with some fields replaced (undefined: removed). */
function ruleWith(changes: Record<string, unknown>): Record<string, unknown> {
  const rule: Record<string, unknown> = structuredClone(shipped) as unknown as Record<
    string,
    unknown
  >;
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete rule[key];
    else rule[key] = value;
  }
  return rule;
}

describe("checkAnalyticRule", () => {
  it("passes nbtscan.yaml", () => {
    expect(checkAnalyticRule(shipped)).toEqual([]);
  });

  it.each([
    "id",
    "name",
    "description",
    "severity",
    "requiredDataConnectors",
    // A Scheduled rule's; an NRT rule has none of these four (below).
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "tactics",
    "relevantTechniques",
    "query",
    "entityMappings",
    "version",
    "kind",
  ])("names a missing %s", (field) => {
    expect(checkAnalyticRule(ruleWith({ [field]: undefined }))).toEqual([
      `(document) must have required property '${field}'`,
    ]);
  });

  it("rejects the old shape: tactics and techniques as objects, each one line", () => {
    const problems = checkAnalyticRule(
      ruleWith({
        tactics: [{ id: "TA0007", name: "Discovery" }],
        relevantTechniques: [{ id: "T1046", name: "Network Service Discovery" }],
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^\/tactics\/0 must be equal to one of the allowed values/),
      "/relevantTechniques/0 must be string",
    ]);
  });

  it("accepts Sentinel's tactic names only", () => {
    expect(checkAnalyticRule(ruleWith({ tactics: ["discovery"] }))[0]).toMatch(
      /^\/tactics\/0 must be equal to one of the allowed values \(InitialAccess, .*Discovery/,
    );
  });

  it("wants every tactic of a listed technique among the tactics (T1040 is Credential Access too)", () => {
    expect(
      checkAnalyticRule(ruleWith({ relevantTechniques: ["T1046", "T1040", "T1059.001"] })),
    ).toEqual([
      "/relevantTechniques/1 'T1040' also belongs to CredentialAccess, which /tactics must list",
      "/relevantTechniques/2 'T1059.001' also belongs to Execution, which /tactics must list",
    ]);
    expect(
      checkAnalyticRule(
        ruleWith({ tactics: ["Discovery", "CredentialAccess"], relevantTechniques: ["T1040"] }),
      ),
    ).toEqual([]);
    expect(checkAnalyticRule(ruleWith({ relevantTechniques: ["T9999"] }))).toEqual([
      "/relevantTechniques/0 'T9999' is not a technique with a known tactic",
    ]);
  });

  it("reads durations as <number><m|h|d> within 5 minutes and 14 days", () => {
    expect(templateDurationMs("5m")).toBe(300_000);
    expect(templateDurationMs("2h")).toBe(7_200_000);
    expect(templateDurationMs("14d")).toBe(14 * 86_400_000);
    // ARM's (a workspace export's) spelling is read too.
    expect(templateDurationMs("PT1H")).toBe(3_600_000);
    expect(checkAnalyticRule(ruleWith({ queryFrequency: "PT5M", queryPeriod: "P1D" }))).toEqual([]);
    expect(checkAnalyticRule(ruleWith({ queryFrequency: "5x" }))[0]).toMatch(
      /^\/queryFrequency must match pattern/,
    );
    expect(checkAnalyticRule(ruleWith({ queryFrequency: "4m", queryPeriod: "15d" }))).toEqual([
      "/queryFrequency '4m' must be between 5m and 14d",
      "/queryPeriod '15d' must be between 5m and 14d",
      "/queryFrequency '4m' must be 1h or more when queryPeriod is 2d or more",
    ]);
  });

  it("wants the period at least the frequency, and a long period run at most hourly", () => {
    expect(checkAnalyticRule(ruleWith({ queryFrequency: "2h", queryPeriod: "1h" }))).toEqual([
      "/queryPeriod '1h' must be at least queryFrequency '2h'",
    ]);
    expect(checkAnalyticRule(ruleWith({ queryFrequency: "30m", queryPeriod: "2d" }))).toEqual([
      "/queryFrequency '30m' must be 1h or more when queryPeriod is 2d or more",
    ]);
    expect(checkAnalyticRule(ruleWith({ queryFrequency: "1h", queryPeriod: "2d" }))).toEqual([]);
  });

  it("takes the trigger operator in its short or ARM form, and a threshold 0 to 10000", () => {
    expect(checkAnalyticRule(ruleWith({ triggerOperator: "GreaterThan" }))).toEqual([]);
    expect(checkAnalyticRule(ruleWith({ triggerOperator: ">" }))[0]).toMatch(
      /^\/triggerOperator must be equal to one of the allowed values/,
    );
    expect(checkAnalyticRule(ruleWith({ triggerThreshold: 10001 }))).toEqual([
      "/triggerThreshold must be <= 10000",
    ]);
  });

  it("checks version, id and severity formats", () => {
    expect(checkAnalyticRule(ruleWith({ version: "1.0" }))).toEqual([
      '/version must match pattern "^\\d+\\.\\d+\\.\\d+$"',
    ]);
    expect(checkAnalyticRule(ruleWith({ id: "nbtscan" }))).toEqual([
      '/id must match format "uuid"',
    ]);
    expect(checkAnalyticRule(ruleWith({ severity: "Critical" }))[0]).toMatch(/^\/severity must/);
    expect(checkAnalyticRule(ruleWith({ kind: "Fusion" }))[0]).toMatch(
      /^\/kind must be equal to one of the allowed values/,
    );
    const nrt = {
      kind: "NRT",
      queryFrequency: undefined,
      queryPeriod: undefined,
      triggerOperator: undefined,
      triggerThreshold: undefined,
    };
    expect(checkAnalyticRule(ruleWith(nrt))).toEqual([]);
  });

  it("checks each entity mapping's identifiers against its entity type", () => {
    const mappings = (entityMappings: unknown) => checkAnalyticRule(ruleWith({ entityMappings }));
    expect(
      mappings([{ entityType: "Host", fieldMappings: [{ identifier: "Name", columnName: "X" }] }]),
    ).toEqual([
      "/entityMappings/0/fieldMappings/0/identifier 'Name' is not an identifier of Host (DnsDomain, NTDomain, HostName, FullName, NetBiosName, AzureID, OMSAgentID, OSFamily, OSVersion, IsDomainJoined)",
      "/entityMappings/0 (Host) must map one of: FullName; HostName; NetBiosName; AzureID; OMSAgentID",
    ]);
    expect(
      mappings([
        { entityType: "FileHash", fieldMappings: [{ identifier: "Value", columnName: "SHA1" }] },
      ]),
    ).toEqual(["/entityMappings/0 (FileHash) must map one of: Algorithm + Value"]);
    expect(
      mappings([
        {
          entityType: "File",
          fieldMappings: [
            { identifier: "Name", columnName: "A" },
            { identifier: "Name", columnName: "B" },
          ],
        },
      ]),
    ).toEqual(["/entityMappings/0/fieldMappings/1/identifier 'Name' is mapped twice"]);
    expect(
      mappings([{ entityType: "Hostname", fieldMappings: [{ identifier: "X", columnName: "X" }] }]),
    ).toEqual([
      expect.stringMatching(/^\/entityMappings\/0\/entityType must be equal to one of the allowed/),
    ]);
  });

  it("bounds entity mappings (1 to 5, 1 to 3 fields) and column names", () => {
    const host = {
      entityType: "Host",
      fieldMappings: [{ identifier: "FullName", columnName: "H" }],
    };
    expect(checkAnalyticRule(ruleWith({ entityMappings: Array(6).fill(host) }))).toEqual([
      "/entityMappings must NOT have more than 5 items",
    ]);
    expect(checkAnalyticRule(ruleWith({ entityMappings: [] }))).toEqual([
      "/entityMappings must NOT have fewer than 1 items",
    ]);
    expect(
      checkAnalyticRule(
        ruleWith({
          entityMappings: [
            { entityType: "Host", fieldMappings: [{ identifier: "FullName", columnName: "1col" }] },
          ],
        }),
      ),
    ).toEqual([
      '/entityMappings/0/fieldMappings/0/columnName must match pattern "^[a-zA-Z_]\\w*$"',
    ]);
  });

  it("wants a legacy entity column the query names to be mapped", () => {
    expect(
      checkAnalyticRule(
        ruleWith({ query: `${shipped.query}| extend HostCustomEntity = DeviceName\n` }),
      ),
    ).toEqual([
      "/query names the legacy entity column HostCustomEntity, which /entityMappings must map",
    ]);
  });

  it("bounds custom details: 20 at most, keys and column names in Sentinel's form", () => {
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`D${i}`, "DeviceName"]));
    expect(checkAnalyticRule(ruleWith({ customDetails: many }))).toEqual([
      "/customDetails must NOT have more than 20 properties",
    ]);
    expect(checkAnalyticRule(ruleWith({ customDetails: { Ok: "1col" } }))).toEqual([
      '/customDetails/Ok must match pattern "^[a-zA-Z_]\\w*$"',
    ]);
    expect(checkAnalyticRule(ruleWith({ customDetails: { "1st": "DeviceName" } }))).toEqual([
      "/customDetails key '1st' must be at most 20 characters: a letter, then letters, digits or _",
    ]);
  });

  it("has an entity table that covers exactly the schema's entity types", () => {
    const entityTypes = schema.properties.entityMappings.items.properties.entityType.enum
      .slice()
      .sort();
    expect(Object.keys(facts.entities).sort()).toEqual(entityTypes);
  });

  it("maps techniques only to the schema's tactics", () => {
    const tactics = new Set<string>(schema.properties.tactics.items.enum);
    const unknown = Object.values(facts.techniqueTactics)
      .flat()
      .filter((tactic) => !tactics.has(tactic));
    expect(unknown).toEqual([]);
  });
});
