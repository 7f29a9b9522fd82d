// Validates Adaptive Cards with Microsoft's own `adaptivecards` package, as Teams' clients parse them.
// stdin: a JSON list of {"where": "...", "card": {...}, "summary": "..." | null, "message": true | false}.
// stdout: a JSON list of problems (strings); empty when every card is fine. With --serve: one such list per line
// of stdin, answered one line each.
"use strict";
const path = require("path");
const AC = require(path.join(__dirname, "node_modules", "adaptivecards", "dist", "adaptivecards.js"));

const MAX_VERSION = AC.Versions.v1_5; // what Teams renders on desktop, web and mobile

function problemsOf(entry) {
  const problems = [];
  const say = (text) => problems.push(`${entry.where}: ${text}`);
  const json = entry.card;
  if (!json || json.type !== "AdaptiveCard") {
    say("not an AdaptiveCard");
    return problems;
  }
  const version = AC.Version.parse(json.version, new AC.SerializationContext());
  if (!version || !version.isValid || version.compareTo(MAX_VERSION) > 0) {
    say(`card version ${json.version} is not 1.5 or lower`);
  }
  if (entry.message && !(typeof entry.summary === "string" && entry.summary.trim())) {
    say("the message has no summary (Teams would show \"sent a card\")");
  }
  const context = new AC.SerializationContext(MAX_VERSION);
  const card = new AC.AdaptiveCard();
  card.parse(json, context);
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    say(`parse: ${event.message}`);
  }
  for (const event of card.validateProperties().validationEvents) {
    say(`validation: ${event.message}`);
  }
  return problems;
}

if (process.argv.includes("--serve")) {
  // One list of entries per line in, one list of problems per line out, until stdin ends
  // (tests/support/node_checker.py keeps one of these per test process).
  const lines = require("readline").createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    let problems;
    try {
      problems = JSON.parse(line).flatMap(problemsOf);
    } catch (error) {
      problems = [`the checker failed: ${error && error.stack ? error.stack : error}`];
    }
    process.stdout.write(JSON.stringify(problems) + "\n");
  });
} else {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (input += chunk));
  process.stdin.on("end", () => {
    const entries = JSON.parse(input || "[]");
    const problems = entries.flatMap(problemsOf);
    process.stdout.write(JSON.stringify(problems));
  });
}
