import { escapeMarkdown, markdownLink } from "../../functions/incidents/markdown";
import { markdownAsText } from "../../sandbox/readable";

describe("markdownAsText (the sandbox's terminal view of a description)", () => {
  it("undoes the escapes a value got for Sentinel", () => {
    const value = "laptop-sales-07.contoso.local ran (\\Users\\j.doe\\nbtscan.exe).";
    expect(markdownAsText(escapeMarkdown(value))).toBe(value);
    expect(escapeMarkdown(value)).not.toBe(value);
  });

  it("drops strong emphasis and shows a link's target", () => {
    expect(
      markdownAsText(
        `**Host:** a\\_b, see ${markdownLink("MITRE S0590", "https://attack.mitre.org/software/S0590/")}`,
      ),
    ).toBe("Host: a_b, see MITRE S0590 <https://attack.mitre.org/software/S0590/>");
  });

  it("keeps an escaped asterisk pair as text", () => {
    expect(markdownAsText("\\*\\*not bold\\*\\*")).toBe("**not bold**");
  });
});
