// Accessibility check of HTML reports: axe-core (WCAG 2.1 AA and axe's best
// practices) in Debian's Chromium driven by puppeteer-core, at each width.
// No browser is downloaded; the page may load nothing but itself.
//
//   node check.mjs --chromium /usr/bin/chromium --widths 1280,375 a.html b.html
//
// Prints one JSON object: {"checked": N, "violations": [{file, width, id,
// impact, help, nodes: [selector...]}]}; exits 0 when it could check,
// whatever it found (the caller judges), 2 when it could not.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const args = process.argv.slice(2);
let chromium = '/usr/bin/chromium';
let widths = [1280, 375];
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--chromium') chromium = args[++i];
  else if (args[i] === '--widths') widths = args[++i].split(',').map(Number);
  else files.push(args[i]);
}

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const out = { checked: 0, violations: [], requests: [] };
try {
  for (const file of files) {
    const url = pathToFileURL(file).href;
    for (const width of widths) {
      const started = Date.now();
      const page = await browser.newPage();
      await page.setRequestInterception(true);
      page.on('request', (req) => {
        if (req.url() !== url && !req.url().startsWith('data:')) {
          out.requests.push({ file, url: req.url() });
          req.abort();
        } else {
          req.continue();
        }
      });
      await page.setViewport({ width, height: 900 });
      await page.goto(url, { waitUntil: 'load' });
      // axe is injected for the check only; the report itself has no script.
      await page.evaluate(axeSource);
      const res = await page.evaluate(() => axe.run(document, {
        resultTypes: ['violations'],
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      }));
      // SPEC 7: chart labels stay at least 11 px high at any width (the
      // SVG is scaled to its box: font size times the scale).
      const small = await page.evaluate(() => {
        const out = [];
        for (const svg of document.querySelectorAll('svg')) {
          const box = svg.getBoundingClientRect();
          if (box.width === 0) continue; // not shown at this width
          const scale = box.width / svg.viewBox.baseVal.width;
          for (const t of svg.querySelectorAll('text')) {
            const px = parseFloat(getComputedStyle(t).fontSize) * scale;
            if (px < 11) out.push(`${t.textContent.trim()} at ${px.toFixed(1)} px`);
          }
        }
        return out;
      });
      if (small.length) {
        res.violations.push({ id: 'chart-label-size', impact: 'serious', help: 'Chart labels must be at least 11 px high',
          nodes: small.map((s) => ({ target: [s], failureSummary: '' })) });
      }
      for (const v of res.violations) {
        out.violations.push({
          file, width, id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + (n.failureSummary || '').split('\n').slice(0, 2).join(' ')),
          count: v.nodes.length,
        });
      }
      out.checked++;
      process.stderr.write(`${file} at ${width}px: ${res.violations.length} violations, ${Date.now() - started} ms\n`);
      await page.close();
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
