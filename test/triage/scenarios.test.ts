import type { DetectionEvent } from "../../functions/model";
import {
  annotateBenign,
  loadBenignScenarios,
  parseBenignScenarios,
} from "../../functions/triage/scenarios";
import { makeEvent } from "../support/events";

const scenarios = loadBenignScenarios();

function fits(overrides: Partial<DetectionEvent>): Record<string, string[]> {
  return Object.fromEntries(
    annotateBenign(makeEvent(overrides), scenarios).map((m) => [m.scenario, m.matchedFields]),
  );
}

describe("the shipped benign scenarios", () => {
  it("load and validate, each with a title and responder advice", () => {
    expect(scenarios.map((s) => s.name)).toEqual([
      "scheduled-network-inventory",
      "security-network-discovery",
      "admin-netbios-check",
      "patch-management-scan",
      "ad-enumeration-tool",
    ]);
    for (const s of scenarios) {
      expect(s.title.length).toBeGreaterThan(10);
      expect(s.description).toMatch(/[Vv]erify/);
    }
  });

  it("leave a plain hand-run nbtscan unexplained", () => {
    expect(annotateBenign(makeEvent(), scenarios)).toEqual([]);
  });

  it("return the title and the matched fields", () => {
    expect(
      annotateBenign(makeEvent({ InitiatingProcessFileName: "taskeng.exe" }), scenarios),
    ).toEqual([
      {
        scenario: "scheduled-network-inventory",
        title: "Scheduled network inventory job",
        matchedFields: ["InitiatingProcessFileName"],
      },
    ]);
  });
});

describe("1. scheduled network inventory", () => {
  it.each([
    [{ InitiatingProcessFileName: "taskeng.exe" }, ["InitiatingProcessFileName"]],
    [{ InitiatingProcessFileName: "TaskHostW.exe" }, ["InitiatingProcessFileName"]],
    // A task that runs a script: the scheduler is the grandparent.
    [{ InitiatingProcessParentFileName: "taskhostw.exe" }, ["InitiatingProcessParentFileName"]],
    [
      {
        InitiatingProcessFileName: "svchost.exe",
        InitiatingProcessCommandLine:
          "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
      },
      ["InitiatingProcessFileName", "InitiatingProcessCommandLine"],
    ],
    [
      { ProcessCommandLine: "nbtscan.exe 10.0.0.0/16 -s , > \\\\fs\\INVENTORY\\nb.csv" },
      ["ProcessCommandLine"],
    ],
  ])("fits %j", (overrides, fields) => {
    expect(fits(overrides)["scheduled-network-inventory"]).toEqual(fields);
  });

  it.each([
    // svchost hosting another service is not the task scheduler
    {
      InitiatingProcessFileName: "svchost.exe",
      InitiatingProcessCommandLine: "svchost.exe -k netsvcs -p -s Winmgmt",
    },
    { InitiatingProcessFileName: "taskeng.exe.bak" },
    { ProcessCommandLine: "nbtscan.exe -r 10.0.0.0/24 -o invent.txt" },
  ])("does not fit the near miss %j", (overrides) => {
    expect(fits(overrides)["scheduled-network-inventory"]).toBeUndefined();
  });
});

describe("2. security team discovery or assessment", () => {
  it.each([
    "nbtscan.exe -r 10.0.0.0/24 --scan",
    "C:\\SecOps\\Discovery\\nbtscan.exe 10.0.0.0/24",
    "nbtscan.exe 10.0.0.0/24 > q3-scanning-results.txt",
  ])("fits %s", (cmd) => {
    expect(fits({ ProcessCommandLine: cmd })["security-network-discovery"]).toEqual([
      "ProcessCommandLine",
    ]);
  });

  it.each([
    // "scan" inside "nbtscan" or another word is not a mention of a scan
    "nbtscan.exe -r 10.0.0.0/24",
    "C:\\portscanner\\nbtscan.exe 10.0.0.0/24",
    "nbtscan.exe 10.0.0.0/24 -o discovered.txt",
  ])("does not fit the near miss %s", (cmd) => {
    expect(fits({ ProcessCommandLine: cmd })["security-network-discovery"]).toBeUndefined();
  });
});

describe("3. administrator checking NetBIOS services", () => {
  it("fits cmd.exe running a check or status command", () => {
    expect(
      fits({
        InitiatingProcessFileName: "CMD.EXE",
        ProcessCommandLine: "nbtscan.exe -v 10.0.0.5 status",
      })["admin-netbios-check"],
    ).toEqual(["InitiatingProcessFileName", "ProcessCommandLine"]);
    expect(
      fits({ ProcessCommandLine: "nbtscan.exe 10.0.0.5 :: check nb" })["admin-netbios-check"],
    ).toBeDefined();
  });

  it.each([
    // all, not any: cmd.exe alone is also how an intruder runs it
    [{ InitiatingProcessFileName: "cmd.exe", ProcessCommandLine: "nbtscan.exe 10.0.0.0/24" }],
    [
      {
        InitiatingProcessFileName: "powershell.exe",
        ProcessCommandLine: "nbtscan.exe 10.0.0.5 status",
      },
    ],
    [{ InitiatingProcessFileName: "cmd.exe", ProcessCommandLine: "nbtscan.exe -o checkpoint.txt" }],
  ])("does not fit the near miss %j", (overrides) => {
    expect(fits(overrides)["admin-netbios-check"]).toBeUndefined();
  });
});

describe("4. patch management", () => {
  it.each([
    [{ InitiatingProcessFileName: "CcmExec.exe" }, ["InitiatingProcessFileName"]],
    [{ InitiatingProcessFileName: "SCCMClientHelper.exe" }, ["InitiatingProcessFileName"]],
    [{ InitiatingProcessParentFileName: "CcmExec.exe" }, ["InitiatingProcessParentFileName"]],
    [
      { ProcessCommandLine: "nbtscan.exe 10.0.0.0/24 -o patching-targets.txt" },
      ["ProcessCommandLine"],
    ],
    [{ ProcessCommandLine: "nbtscan.exe 10.0.0.0/24 # patch" }, ["ProcessCommandLine"]],
  ])("fits %j", (overrides, fields) => {
    expect(fits(overrides)["patch-management-scan"]).toEqual(fields);
  });

  it.each([
    [{ ProcessCommandLine: "nbtscan.exe 10.0.0.0/24 -o dispatcher.txt" }],
    [{ InitiatingProcessFileName: "ccm.exe" }],
  ])("does not fit the near miss %j", (overrides) => {
    expect(fits(overrides)["patch-management-scan"]).toBeUndefined();
  });
});

describe("5. Active Directory enumeration tool", () => {
  it.each([
    [{ InitiatingProcessFileName: "ADInsight64.exe" }, ["InitiatingProcessFileName"]],
    [{ ProcessCommandLine: "nbtscan.exe 10.0.0.0/24 -o AD-hosts.txt" }, ["ProcessCommandLine"]],
    [{ ProcessCommandLine: "nbtscan.exe --domain contoso 10.0.0.0/24" }, ["ProcessCommandLine"]],
  ])("fits %j", (overrides, fields) => {
    expect(fits(overrides)["ad-enumeration-tool"]).toEqual(fields);
  });

  it.each([
    // "ad" inside a word is not "AD"
    "nbtscan.exe 10.0.0.0/24 -o C:\\Users\\admin\\Downloads\\load.txt",
    "nbtscan.exe 10.0.0.0/24 -o ad_hoc.txt",
    "nbtscan.exe 10.0.0.0/24 -o domainless",
  ])("does not fit the near miss %s", (cmd) => {
    expect(fits({ ProcessCommandLine: cmd })["ad-enumeration-tool"]).toBeUndefined();
  });
});

describe("parseBenignScenarios", () => {
  const valid = (name: string, condition: string): string =>
    `  - name: ${name}\n    title: T\n    description: D\n    condition: ${condition}\n`;

  it("rejects a duplicate name and a bad column, naming the paths", () => {
    const text =
      "scenarios:\n" +
      valid("one", "{ column: FileName, equals: a }") +
      valid("one", "{ column: FileName, matches: '[' }");
    expect(() => parseBenignScenarios(text, "s.yaml")).toThrow(
      /benign scenarios \(s\.yaml\) is invalid:\n {2}- \/scenarios\/1\/name 'one' is used by an earlier scenario\n {2}- \/scenarios\/1\/condition\/matches is not a valid regular expression/,
    );
    expect(() =>
      parseBenignScenarios(
        "scenarios:\n" + valid("one", "{ column: Parent, equals: a }"),
        "s.yaml",
      ),
    ).toThrow(/\/scenarios\/0\/condition\/column must be equal to one of the allowed values/);
  });

  it("rejects a scenario without a description for responders", () => {
    expect(() =>
      parseBenignScenarios(
        "scenarios:\n  - name: one\n    title: T\n    condition: { column: FileName, equals: a }\n",
        "s.yaml",
      ),
    ).toThrow(/must have required property 'description'/);
  });
});
