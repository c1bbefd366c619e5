import {
  DEFAULT_SEVERITY_POLICY,
  USER_WRITABLE_FOLDERS,
  severityOf,
  userWritableMarkers,
  type SeverityPolicy,
} from "../../functions/triage/severity";
import { benignMatch, KNOWN_SHA1, makeEvent, makeHit } from "../support/events";

const plain = () => makeHit(makeEvent());
const benign = () => makeHit(makeEvent(), { benign: [benignMatch()] });
const renamed = () =>
  makeHit(makeEvent({ FileName: "svc.exe", SHA1: KNOWN_SHA1 }), { matchedBy: "hash" });
const inFolder = (folder: string) => makeHit(makeEvent({ FolderPath: folder }));

describe("severityOf", () => {
  it("is the default (Medium) with no aggravating or benign signal", () => {
    const result = severityOf([plain(), plain()]);
    expect(result.severity).toBe("Medium");
    expect(result.reason).toMatch(/no benign scenario fits/);
  });

  it("is elevated (High) for a renamed binary", () => {
    const result = severityOf([plain(), renamed()]);
    expect(result.severity).toBe("High");
    expect(result.reason).toMatch(
      /1 of 2 events show a known nbtscan hash under another file name/,
    );
  });

  it.each([
    "C:\\Users\\bob\\nbtscan.exe",
    "C:\\Users\\bob\\AppData\\Roaming\\x\\nbtscan.exe",
    "D:\\Temp\\nbtscan.exe",
    "C:\\Windows\\Temp\\nbtscan.exe",
    "C:\\ProgramData\\nbtscan.exe",
    "E:\\Downloads\\nbtscan.exe",
    "D:\\Public\\nbtscan.exe",
    "C:\\$Recycle.Bin\\S-1-5-21\\nbtscan.exe",
    "c:/users/BOB/appdata/local/TEMP/nbtscan.exe",
    "C:\\Windows\\Temp",
  ])("is elevated for the user-writable or temporary folder %s", (folder) => {
    const result = severityOf([inFolder(folder)]);
    expect(result.severity).toBe("High");
    expect(result.reason).toMatch(/user-writable or temporary folder/);
  });

  it.each([
    "C:\\Program Files\\Inventory\\nbtscan.exe",
    "C:\\Tools\\TempFiles\\nbtscan.exe",
    "C:\\UsersData\\nbtscan.exe",
    "",
  ])("is not elevated for %j", (folder) => {
    expect(severityOf([inFolder(folder)]).severity).toBe("Medium");
  });

  it("is benign (Low) when every hit fits a benign scenario", () => {
    const result = severityOf([benign(), benign()]);
    expect(result.severity).toBe("Low");
    expect(result.reason).toMatch(/every event \(2\) fits a possible benign scenario/i);
    expect(result.reason).toMatch(/verify/);
  });

  it("stays at the default when only some hits fit a benign scenario", () => {
    const result = severityOf([benign(), plain()]);
    expect(result.severity).toBe("Medium");
    expect(result.reason).toMatch(/1 of 2 events fit no benign scenario/);
  });

  it("lets aggravating signals win over benign scenarios", () => {
    const renamedButBenign = makeHit(makeEvent({ FileName: "svc.exe" }), {
      matchedBy: "hash",
      benign: [benignMatch()],
    });
    const tempButBenign = makeHit(makeEvent({ FolderPath: "C:\\Windows\\Temp\\nbtscan.exe" }), {
      benign: [benignMatch()],
    });
    for (const hits of [[renamedButBenign], [tempButBenign], [benign(), renamedButBenign]]) {
      const result = severityOf(hits);
      expect(result.severity).toBe("High");
      expect(result.reason).toMatch(/possible benign explanations do not lower it/);
    }
  });

  it("uses the deployment's policy for each outcome", () => {
    const policy: SeverityPolicy = { default: "Low", elevated: "Medium", benign: "Informational" };
    expect(severityOf([plain()], policy).severity).toBe("Low");
    expect(severityOf([renamed()], policy).severity).toBe("Medium");
    expect(severityOf([benign()], policy).severity).toBe("Informational");
  });

  it("defaults to Medium / High / Low", () => {
    expect(DEFAULT_SEVERITY_POLICY).toEqual({ default: "Medium", elevated: "High", benign: "Low" });
    expect(severityOf([plain()])).toEqual(severityOf([plain()], DEFAULT_SEVERITY_POLICY));
  });

  it("keeps the reason within the payload's 1,000 characters", () => {
    const many = Array.from({ length: 50 }, (_, i) =>
      makeHit(
        makeEvent({ FolderPath: "C:\\Users\\x\\AppData\\Local\\Temp\\Downloads\\Public\\" }),
        {
          matchedBy: "hash",
          benign: [benignMatch(`scenario-${i}`)],
        },
      ),
    );
    expect(severityOf(many).reason.length).toBeLessThanOrEqual(1000);
    const allBenign = many.map((h) => ({ ...h, renamedBinary: false, event: makeEvent() }));
    const reason = severityOf(allBenign).reason;
    expect(reason).toMatch(/scenario-0, scenario-1, scenario-2 and 47 more/);
    expect(reason.length).toBeLessThanOrEqual(1000);
  });
});

describe("userWritableMarkers", () => {
  it("lists the markers a path contains, in list order", () => {
    expect(userWritableMarkers("C:\\Users\\bob\\AppData\\Local\\Temp\\x.exe")).toEqual([
      "\\Users\\",
      "\\AppData\\",
      "\\Temp\\",
    ]);
    expect(USER_WRITABLE_FOLDERS).toContain("\\$Recycle.Bin\\");
  });
});
