// The real desktop app (the Tauri binary with the UI embedded), driven through tauri-driver and
// WebKitWebDriver under Xvfb: it works offline with no account and keeps its data across a
// restart; two instances on their own data folders, signed in to one account through the real
// server, see each other's expenses, keep working while the server is gone, and converge
// when it is back. Screenshots go to ui/e2e-output/.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from './harness.mjs'
import { App, startDriver } from './webdriver.mjs'

const application = process.env.EXPENSO_APP_BIN
if (!application) throw new Error('EXPENSO_APP_BIN must name the built desktop app (cargo xtask test sets it)')

let server
const drivers = []

before(async () => {
  server = await startServer()
})

after(async () => {
  for (const d of drivers) await d.stop()
  await server?.stop()
})

async function device(name) {
  const dir = mkdtempSync(join(tmpdir(), `expenso-${name}-`))
  // No test reaches the real ECB: the app's background fetch of rates fails quietly.
  const driver = await startDriver({ EXPENSO_DATA_DIR: dir, EXPENSO_ECB_URL: 'http://127.0.0.1:9/' })
  drivers.push(driver)
  return { dir, driver, launch: () => App.launch(driver, application) }
}

async function addExpense(app, amount, description) {
  await app.exec(() => window.dispatchEvent(new KeyboardEvent('keydown', { key: 'n' })))
  await app.find('[data-testid=tx-form]')
  await app.type('#tx-amount', amount)
  await app.select('#tx-category', '🛒 Groceries')
  // Enter saves (WebDriver's key for it).
  await app.type('#tx-description', description + '\uE007')
  await app.until('the form to close', () => !document.querySelector('[data-testid=tx-form]'))
}

async function goTo(app, hash) {
  await app.exec((h) => {
    window.location.hash = h
  }, hash)
}

describe('desktop app', () => {
  test('works offline without an account and keeps its data across a restart', async () => {
    const a = await device('solo')
    let app = await a.launch()
    await app.waitForText('Welcome to ExpensoTrack')
    await app.select('#welcome-currency', 'EUR')
    await app.clickText('Start my ledger')
    await app.waitForText('Nothing booked yet')
    await addExpense(app, '12,50', 'Weekly market')
    await app.screenshot('desktop-app-after-add')
    await app.waitForText('Weekly market')
    await app.quit()

    app = await a.launch()
    await app.waitForText('Weekly market')
    const balance = await app.shownText('[data-testid=balance]')
    assert.match(balance, /-€12\.50/)
    await app.screenshot('desktop-app-main-window')
    await app.quit()
  })

  test('books recurring transactions and raises budget alerts by itself, offline', async () => {
    const a = await device('plans')
    const app = await a.launch()
    await app.waitForText('Welcome to ExpensoTrack')
    await app.select('#welcome-currency', 'EUR')
    await app.clickText('Start my ledger')
    await app.waitForText('Nothing booked yet')
    await addExpense(app, '85', 'Big shop')
    // A monthly budget of 100 and a monthly bill that started on the 1st of last month, made
    // through the app's own commands; the app's planner does the rest.
    const start = new Date()
    start.setDate(1)
    start.setMonth(start.getMonth() - 1)
    const first = `${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, '0')}-01`
    await app.exec(
      (day) =>
        Promise.all([
          window.__TAURI_INTERNALS__.invoke('add_budget', { input: { category: 'groceries', amount: '100' } }),
          window.__TAURI_INTERNALS__.invoke('add_recurring', {
            input: { amount: '9.99', category: 'entertainment', description: 'Streaming', frequency: 'monthly', start: day },
          }),
        ]),
      first,
    )
    await goTo(app, '#/alerts')
    await app.waitForText('Groceries: 80% of the monthly budget used')
    await goTo(app, '#/transactions')
    await app.waitForText('Streaming')
    const booked = await app.exec(() => window.__TAURI_INTERNALS__.invoke('recurring'))
    assert.equal(booked.length, 1)
    assert.ok(booked[0].next_due > first, `the due occurrences were booked (next ${booked[0].next_due})`)
    const alerts = await app.exec(() => window.__TAURI_INTERNALS__.invoke('alerts'))
    assert.deepEqual(alerts.map((x) => x.threshold), [80], 'one alert, raised once')
    await goTo(app, '#/budgets')
    await app.waitForText('Near the limit')
    await app.screenshot('desktop-app-budgets')
    await app.quit()
  })

  test('converts another currency with a rate typed in Settings, and reports the month', async () => {
    const a = await device('rates')
    const app = await a.launch()
    await app.waitForText('Welcome to ExpensoTrack')
    await app.select('#welcome-currency', 'EUR')
    await app.clickText('Start my ledger')
    await app.waitForText('Nothing booked yet')
    await addExpense(app, '20', 'Bakery')
    // 50 dollars, booked through the app's own command (the form's currency list is long).
    const today = await app.exec(() => {
      const d = new Date()
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
    })
    await app.exec(
      (day) =>
        window.__TAURI_INTERNALS__.invoke('create_transaction', {
          input: { kind: 'expense', amount: '50', currency: 'USD', date: day, category: 'travel', description: 'Taxi in New York' },
        }),
      today,
    )
    // No rate yet: the dollars are shown apart, never as zero.
    await goTo(app, '#/transactions')
    await app.waitForText('Taxi in New York')
    await goTo(app, '#/')
    await app.find('[data-testid=unconverted]')
    assert.match(await app.shownText('[data-testid=expenses]'), /€20\.00/)
    // A rate typed in Settings: 1 USD = 0.9 EUR from the first of the month.
    await goTo(app, '#/settings')
    await app.find('[data-testid=rate-form]')
    await app.select('#rate-from', 'USD')
    await app.type('#rate-value', '0.9')
    await app.exec((day) => {
      const input = document.querySelector('#rate-date')
      input.value = day.slice(0, 8) + '01'
      input.dispatchEvent(new Event('input', { bubbles: true }))
    }, today)
    await app.clickText('Add rate')
    await app.until('the rate to be listed', () => document.querySelector('[data-testid=manual-rates]')?.textContent.includes('1 USD = 0.9 EUR'))
    await goTo(app, '#/')
    await app.until('the dollars to convert', () => !document.querySelector('[data-testid=unconverted]') && document.querySelector('[data-testid=expenses]')?.textContent.includes('65.00'))
    // This month's report: 20 + 45 in euros.
    await goTo(app, '#/reports')
    await app.find('[data-testid=report-expense]')
    await app.until('the report to show the month', () => document.querySelector('[data-testid=report-expense]')?.textContent.includes('65.00'))
    assert.equal((await app.exec(() => document.querySelectorAll('[data-testid=report-row]').length)), 2)
    await app.screenshot('desktop-app-report')
    await app.quit()
  })

  test('two instances on one account sync through the server, offline too', async () => {
    const email = `dana.${Date.now()}@example.com`
    const password = 'correct horse battery'
    const a = await device('a')
    const b = await device('b')
    const appA = await a.launch()
    const appB = await b.launch()
    for (const app of [appA, appB]) {
      await app.waitForText('Welcome to ExpensoTrack')
      await app.select('#welcome-currency', 'EUR')
      await app.clickText('Start my ledger')
      await app.waitForText('Nothing booked yet')
    }
    // A books offline before it ever signs in; the expense goes up at sign-up.
    await addExpense(appA, '40', 'Before sign-up')

    async function signIn(app, create) {
      await goTo(app, '#/account')
      await app.type('#si-server', server.base)
      await app.type('#si-email', email)
      await app.type('#si-password', password)
      await app.clickText(create ? 'Create account' : 'Log in')
      await app.waitForText('Signed-in devices')
    }
    await signIn(appA, true)
    await signIn(appB, false)

    await goTo(appB, '#/transactions')
    await appB.waitForText('Before sign-up', 60000)

    // Live: an expense added on A appears on B.
    await goTo(appA, '#/')
    await addExpense(appA, '3.20', 'Bakery')
    await appB.waitForText('Bakery', 60000)

    // The server goes away: both keep working.
    await server.stop()
    await addExpense(appA, '5', 'Offline on A')
    await addExpense(appB, '7', 'Offline on B')
    await goTo(appA, '#/transactions')
    await appA.waitForText('Offline on A')
    await appB.waitForText('Offline on B')
    await goTo(appB, '#/settings')
    await appB.waitForText('Offline: will retry', 60000)

    // It comes back: they converge.
    await server.start()
    await goTo(appB, '#/transactions')
    await appA.waitForText('Offline on B', 90000)
    await appB.waitForText('Offline on A', 90000)
    const count = async (app) => (await app.text('[data-testid=tx-count]')) ?? ''
    await appA.until('4 transactions on A', () => document.querySelector('[data-testid=tx-count]')?.innerText === '4 transactions')
    await appB.until('4 transactions on B', () => document.querySelector('[data-testid=tx-count]')?.innerText === '4 transactions')
    assert.equal(await count(appA), await count(appB))
    await appA.screenshot('desktop-app-synced')
    await appA.quit()
    await appB.quit()
  })
})
