// `cargo xtask bench ui`: the web dashboard's first paint with a large ledger on the server,
// scrolling deep into the transactions list, and the production bundle's size. A benchmark,
// not a test: it prints figures and fails only if something does not work at all.
//
// The ledger is made by the real command line (`expenso sample-data`, the reference workload)
// and uploaded with `expenso signup` + `expenso sync`; the server publishes its records to
// MongoDB before the browser opens the dashboard.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { launchBrowser, smtpSink, startServer, uiDir } from './harness.mjs'

const sizes = (process.env.EXPENSO_UI_BENCH_SIZES ?? '10000,100000').split(',').map(Number)
const cli = process.env.EXPENSO_CLI_BIN
if (!cli) throw new Error('EXPENSO_CLI_BIN must name the expenso binary (cargo xtask bench ui sets it)')

function bundle() {
  // Vite's manifest says which chunks each module loads: the first load of the dashboard is the
  // entry and the dashboard page with everything they import statically.
  const manifest = JSON.parse(readFileSync(join(uiDir, 'dist/.vite/manifest.json'), 'utf8'))
  const first = new Set()
  const visit = (key) => {
    const chunk = manifest[key]
    if (!chunk || first.has(chunk.file)) return
    first.add(chunk.file)
    for (const i of chunk.imports ?? []) visit(i)
  }
  visit('index.html')
  visit('src/pages/DashboardPage.vue')
  const dir = join(uiDir, 'dist')
  const gz = (f) => gzipSync(readFileSync(join(dir, f))).length
  const js = readdirSync(join(dir, 'assets'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => `assets/${f}`)
  const kb = (n) => (n / 1024).toFixed(1) + ' KB'
  const total = js.reduce((n, f) => n + gz(f), 0)
  const firstLoad = [...first].filter((f) => f.endsWith('.js')).reduce((n, f) => n + gz(f), 0)
  const raw = js.reduce((n, f) => n + statSync(join(dir, f)).size, 0)
  console.log(`bundle: ${js.length} JS files, ${kb(raw)} raw, ${kb(total)} gzipped in all; first load of the dashboard ${kb(firstLoad)} gzipped (${first.size} files)`)
}

function expenso(dir, args, input) {
  return execFileSync(cli, ['--data-dir', dir, ...args], { input, env: { ...process.env, EXPENSO_PASSWORD: 'correct horse battery' }, maxBuffer: 1 << 26 }).toString()
}

async function waitForRecords(base, token, n) {
  const start = Date.now()
  for (;;) {
    const res = await fetch(base + '/api/v1/transactions?limit=1', { headers: { Authorization: `Bearer ${token}` } })
    const body = await res.json()
    if (body.total >= n) return (Date.now() - start) / 1000
    if (Date.now() - start > 60 * 60 * 1000) throw new Error(`records stuck at ${body.total} of ${n}`)
    await new Promise((ok) => setTimeout(ok, 2000))
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

bundle()
const smtp = await smtpSink()
const server = await startServer(smtp.port)
const browser = await launchBrowser()
try {
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'expenso-bench-'))
    const email = `bench.${n}.${Date.now()}@example.com`
    let t = Date.now()
    expenso(dir, ['init', '--currency', 'EUR'])
    expenso(dir, ['sample-data', '--count', String(n), '--seed', '20261121', '--batch', '1000'])
    const made = (Date.now() - t) / 1000
    t = Date.now()
    expenso(dir, ['signup', '--server', server.base, '--email', email, '--name', 'Bench'])
    expenso(dir, ['sync'])
    const synced = (Date.now() - t) / 1000
    const session = JSON.parse(readFileSync(join(dir, 'session.json'), 'utf8'))
    const token = session.tokens?.access_token ?? session.access_token
    const published = await waitForRecords(server.base, token, n)
    console.log(`${n} transactions: made in ${made.toFixed(1)} s, uploaded in ${synced.toFixed(1)} s, records published ${published.toFixed(1)} s later`)

    // Log in once through the page, then measure cold loads of the dashboard (new context each,
    // the session copied in, nothing cached).
    const login = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const lp = await login.newPage()
    await lp.goto(server.base + '/login')
    await lp.getByLabel('E-mail').fill(email)
    await lp.getByLabel('Password').fill('correct horse battery')
    await lp.getByRole('button', { name: 'Log in' }).click()
    await lp.getByTestId('balance').waitFor({ timeout: 120000 })
    const stored = await lp.evaluate(() => localStorage.getItem('expenso.session'))
    await login.close()

    const paints = []
    const scrolls = []
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } })
      // The page notes when the balance card enters the document and the frame that paints
      // it (from the start of the navigation): asking from here would add the driver's own
      // polling and round trips to the figure.
      await ctx.addInitScript((s) => {
        localStorage.setItem('expenso.session', s)
        const seen = new MutationObserver(() => {
          if (document.querySelector('[data-testid=balance]')) {
            seen.disconnect()
            requestAnimationFrame(() => (window.__balancePainted = performance.now()))
          }
        })
        document.addEventListener('DOMContentLoaded', () => seen.observe(document.body, { childList: true, subtree: true }))
      }, stored)
      const page = await ctx.newPage()
      await page.goto(server.base + '/', { waitUntil: 'commit' })
      await page.waitForFunction(() => window.__balancePainted, null, { timeout: 120000 })
      paints.push(await page.evaluate(() => window.__balancePainted))

      // Jump to the middle of the list and wait for its rows.
      await page.getByRole('link', { name: 'Transactions' }).first().click()
      const list = page.getByTestId('tx-list')
      await list.getByTestId('tx-row').first().waitFor()
      const ms = await page.evaluate(async () => {
        const el = document.querySelector('[data-testid=tx-list]')
        const start = performance.now()
        el.scrollTop = el.scrollHeight / 2
        el.dispatchEvent(new Event('scroll'))
        const row = Math.floor(el.scrollTop / 64)
        for (;;) {
          const shown = [...el.querySelectorAll('[role=listitem]')].some(
            (s) => s.querySelector('[data-testid=tx-row]') && Math.abs(parseFloat(s.style.transform.slice(11)) / 64 - row) < 2,
          )
          if (shown) return performance.now() - start
          await new Promise((r) => setTimeout(r, 5))
        }
      })
      scrolls.push(ms)
      await ctx.close()
    }
    console.log(
      `${n} transactions: dashboard first paint median ${median(paints).toFixed(0)} ms (of ${paints.map((p) => p.toFixed(0)).join(', ')}); ` +
        `rows in the middle of the list after a jump: median ${median(scrolls).toFixed(0)} ms`,
    )
  }
} finally {
  await browser.close()
  await server.stop()
  await smtp.close()
}
