// The web dashboard end to end, in real Chromium against the real sync server and databases,
// at desktop (1440×900) and phone (360×740) sizes. Screenshots of each main screen go to
// ui/e2e-output/ (not committed).
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { launchBrowser, outDir, screenshot, SIZES, smtpSink, startServer, uiDir } from './harness.mjs'

let smtp
let server
let browser

before(async () => {
  smtp = await smtpSink()
  server = await startServer(smtp.port)
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await server?.stop()
  await smtp?.close()
})

const PASSWORD = 'correct horse battery'
/** The first test's export, which a later test imports into another account. */
let exportedFile = null

const pages = []

async function newPage(size) {
  const context = await browser.newContext({ viewport: SIZES[size], locale: 'en-US', timezoneId: 'Europe/Berlin' })
  const page = await context.newPage()
  page.on('pageerror', (e) => {
    throw new Error(`page error: ${e.message}`)
  })
  pages.push(page)
  return page
}

// A failing test leaves a picture of where it stopped.
afterEach(async (t) => {
  for (const page of pages.splice(0)) {
    if (!page.isClosed()) {
      await screenshot(page, `failed-${t.name.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => {})
      await page.close()
    }
  }
})

async function signUp(page, email, name) {
  await page.goto(server.base + '/')
  await page.waitForURL(/\/login/)
  await page.getByRole('link', { name: 'Create account' }).click()
  await page.getByRole('heading', { name: 'Start tracking' }).waitFor()
  await page.getByLabel('Your name').fill(name)
  await page.getByLabel('E-mail').fill(email)
  // en-US guesses dollars; these tests keep their books in euros.
  assert.equal(await page.getByLabel('Base currency').inputValue(), 'USD')
  await page.getByLabel('Base currency').selectOption('EUR')
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
  await page.getByLabel('Repeat the password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
}

/** Fills and saves the transaction dialog. */
async function addTransaction(page, { kind = 'expense', amount, category, description, tags, date }) {
  const form = page.getByTestId('tx-form')
  await form.waitFor()
  if (kind === 'income') await form.getByRole('button', { name: 'Income' }).click()
  await form.getByLabel('Amount').fill(amount)
  if (date) await form.getByLabel('Date').fill(date)
  await form.getByLabel('Category').selectOption({ label: category })
  await form.getByLabel('Description').fill(description)
  if (tags) await form.getByLabel(/^Tags/).fill(tags)
  await form.getByLabel('Description').press('Enter')
  await form.waitFor({ state: 'detached' })
}

function today() {
  const d = new Date()
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

/** A day in the browser's own calendar (its time zone decides what today is): today moved by `days`, or the first of the month `months` away. */
function browserDay(page, { days = 0, months = null } = {}) {
  return page.evaluate(
    ([days, months]) => {
      const now = new Date()
      const d = months === null ? new Date(now.getFullYear(), now.getMonth(), now.getDate() + days, 12) : new Date(now.getFullYear(), now.getMonth() + months, 1, 12)
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
    },
    [days, months],
  )
}

/** Goes to a screen through the navigation: the sidebar, or on phones the bottom bar and its "More". */
async function navigate(page, size, name) {
  if (size === 'desktop') {
    await page.getByRole('navigation').first().getByRole('link', { name }).click()
    return
  }
  const bar = page.getByRole('navigation').last()
  if (!(await bar.getByRole('link', { name }).isVisible())) await bar.getByRole('button', { name: /^More/ }).click()
  await bar.getByRole('link', { name }).click()
}

async function fitsTheScreen(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `${what} is ${overflow}px wider than the screen`)
}

/**
 * Budgets, alerts and recurring transactions on the real server: a monthly Groceries budget of
 * 100.00 alerts at 80 % and 100 %; a monthly rule that started last month books itself when the
 * app runs the plans; a weekly one that asks first is booked (with another amount) and skipped.
 */
async function plansScenario(page, size) {
  await signUp(page, `${size}.plans.${Date.now()}@example.com`, 'Dora')

  // Budgets: the empty page says how to start; the dialog checks beside the field.
  await navigate(page, size, 'Budgets')
  await page.getByRole('heading', { name: 'Budgets', level: 1 }).waitFor()
  await page.getByText('No budgets yet').waitFor()
  await page.getByRole('button', { name: 'Create a budget' }).click()
  const form = page.getByTestId('budget-form')
  await form.getByLabel('Limit per period').press('Enter')
  await form.locator('#bd-amount-msg.error').getByText('Required.').waitFor()
  await form.getByLabel('Category').selectOption({ label: '🛒 Groceries' })
  await form.getByLabel('Limit per period').fill('100.00')
  await form.getByLabel('Alert at').fill('80, 100')
  await form.getByLabel('Limit per period').press('Enter')
  await form.waitFor({ state: 'detached' })
  await page.getByTestId('notice').filter({ hasText: 'Budget “Groceries” created.' }).waitFor()
  const card = page.getByTestId('budget').filter({ hasText: 'Groceries' })
  await card.getByTestId('budget-spent').getByText('€0.00 of €100.00').waitFor()
  assert.equal(await card.getByTestId('budget-bar').getAttribute('data-tone'), 'ok')

  // Spending that crosses 80 %: the bar turns amber and the alert comes (the app runs the plans after a change).
  await page.keyboard.press('n')
  await addTransaction(page, { amount: '50.00', category: '🛒 Groceries', description: 'Market' })
  await card.getByTestId('budget-spent').getByText('€50.00 of €100.00').waitFor()
  await page.keyboard.press('n')
  await addTransaction(page, { amount: '35.00', category: '🛒 Groceries', description: 'Supermarket' })
  await card.getByTestId('budget-spent').getByText('€85.00 of €100.00').waitFor()
  await card.getByTestId('budget-left').getByText('€15.00 left').waitFor()
  await card.getByTestId('budget-tone').getByText('Near the limit').waitFor()
  assert.equal(await card.getByTestId('budget-bar').getAttribute('data-tone'), 'warn')
  assert.equal(await card.getByTestId('budget-bar').getAttribute('aria-valuenow'), '85')
  await page.getByTestId('notice').filter({ hasText: 'Groceries: 80% of the monthly budget used (€85.00 of €100.00)' }).waitFor()
  const badge = size === 'desktop' ? page.getByTestId('alert-badge') : page.getByTestId('more-badge')
  await badge.getByText('1', { exact: true }).waitFor()
  await card.getByRole('button', { name: 'Past periods' }).click()
  await card.getByTestId('budget-history').waitFor()
  await fitsTheScreen(page, 'Budgets')
  await screenshot(page, `${size}-budgets`)

  // A lower limit: past 100 %, red, and the next alert.
  await card.getByRole('button', { name: 'Edit Groceries' }).click()
  await form.getByLabel('Limit per period').fill('80')
  await form.getByLabel('Limit per period').press('Enter')
  await form.waitFor({ state: 'detached' })
  await card.getByTestId('budget-spent').getByText('€85.00 of €80.00').waitFor()
  await card.getByTestId('budget-left').getByText('€5.00 over budget').waitFor()
  assert.equal(await card.getByTestId('budget-bar').getAttribute('data-tone'), 'over')
  await page.getByTestId('notice').filter({ hasText: 'Groceries: 100% of the monthly budget used' }).waitFor()
  await badge.getByText('2', { exact: true }).waitFor()

  // The dashboard puts the alerts first, with the budget's progress.
  await navigate(page, size, 'Dashboard')
  const dashAlerts = page.getByTestId('dashboard-alerts')
  await dashAlerts.getByText('Groceries: 80% of the monthly budget used (€85.00 of €100.00)').waitFor()
  await page.getByTestId('dashboard-budget').filter({ hasText: 'Groceries' }).getByText('€85.00 of €80.00').waitFor()
  await screenshot(page, `${size}-dashboard-plans`)

  // Dismissing one alert leaves the other.
  await navigate(page, size, 'Alerts')
  await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor()
  await page.getByRole('button', { name: /^Dismiss: Groceries: 80%/ }).click()
  await page.getByTestId('alerts-dismissed').getByText('Groceries: 80% of the monthly budget used').waitFor()
  await page.getByTestId('alerts-open').getByText('Groceries: 100% of the monthly budget used').waitFor()
  await badge.getByText('1', { exact: true }).waitFor()

  // A monthly rule that started on the first of last month books both its dates by itself.
  await navigate(page, size, 'Recurring')
  await page.getByRole('heading', { name: 'Recurring', level: 1 }).waitFor()
  await page.getByText('No recurring transactions yet').waitFor()
  await page.getByRole('button', { name: 'Add a recurring transaction' }).click()
  const rule = page.getByTestId('recurring-form')
  await rule.getByLabel('Amount').fill('12.99')
  await rule.getByLabel('Description').fill('Streaming')
  await rule.getByLabel('Category').selectOption({ label: '🎬 Entertainment' })
  await rule.getByLabel('Repeats').selectOption('monthly')
  await rule.getByLabel('First date').fill(await browserDay(page, { months: -1 }))
  assert.ok(await rule.getByLabel('Book it by itself').isChecked(), 'a new rule books by itself')
  await rule.getByTestId('recurring-preview').getByText('Monthly on day 1').waitFor()
  await rule.getByLabel('Description').press('Enter')
  await rule.waitFor({ state: 'detached' })
  await page.getByTestId('notice').filter({ hasText: 'Booked 2 recurring transactions.' }).waitFor()
  const streaming = page.getByTestId('rule').filter({ hasText: 'Streaming' })
  await streaming.getByTestId('rule-schedule').getByText('Monthly on day 1').waitFor()
  await streaming.getByText('Books by itself').waitFor()

  // A weekly rule that asks first, started five days ago: one date is due, the next ones come.
  await page.getByTestId('recurring-add').click()
  await rule.getByLabel('Amount').fill('3.50')
  await rule.getByLabel('Description').fill('Newspaper')
  await rule.getByLabel('Category').selectOption({ label: '📦 Other' })
  await rule.getByLabel('Repeats').selectOption('weekly')
  await rule.getByLabel('First date').fill(await browserDay(page, { days: -5 }))
  await rule.getByLabel('Ask me first').check()
  await rule.getByLabel('Description').press('Enter')
  await rule.waitFor({ state: 'detached' })
  const newspaper = page.getByTestId('occurrence').filter({ hasText: 'Newspaper' })
  await newspaper.first().getByText('Due', { exact: true }).waitFor()
  assert.equal(await newspaper.first().getAttribute('data-due'), await browserDay(page, { days: -5 }))
  await fitsTheScreen(page, 'Recurring')
  await screenshot(page, `${size}-recurring`)

  // Book the due one with another amount; skip the next.
  await newspaper.first().getByRole('button', { name: /^Book/ }).click()
  const book = page.getByTestId('book-form')
  await book.getByLabel(/^Amount/).fill('4.00')
  await book.getByLabel(/^Amount/).press('Enter')
  await book.waitFor({ state: 'detached' })
  await page.getByTestId('notice').filter({ hasText: 'Booked “Newspaper”.' }).waitFor()
  await newspaper.and(page.locator(`[data-due="${await browserDay(page, { days: -5 })}"]`)).waitFor({ state: 'detached' })
  assert.equal(await newspaper.first().getAttribute('data-due'), await browserDay(page, { days: 2 }))
  await newspaper.first().getByRole('button', { name: /^Skip/ }).click()
  await page.getByTestId('notice').filter({ hasText: 'Skipped “Newspaper”' }).waitFor()
  await newspaper.and(page.locator(`[data-due="${await browserDay(page, { days: 2 })}"]`)).waitFor({ state: 'detached' })
  assert.equal(await newspaper.first().getAttribute('data-due'), await browserDay(page, { days: 9 }))

  // The transactions list has what the rules booked.
  await navigate(page, size, 'Transactions')
  await page.getByTestId('tx-count').getByText('5 transactions').waitFor()
  assert.equal(await page.getByTestId('tx-row').filter({ hasText: 'Streaming' }).count(), 2)
  await page.getByTestId('tx-row').filter({ hasText: 'Newspaper' }).getByText('-€4.00').waitFor()
  await page.close()
}

/** The core's statement fixtures. */
const STATEMENTS = join(uiDir, '..', 'core/tests/data/import')

/** The text of the option a select shows. */
function chosenOption(page, selector) {
  return page.locator(selector).evaluate((el) => el.selectedOptions[0]?.textContent?.trim() ?? '')
}

/**
 * Bank statements and reports on the real server: a bad file is refused naming its line; a
 * German bank's CSV (Windows-1252, decimal commas, a preamble) is read with the guessed
 * columns and imported, once (the same file again adds nothing); the report of March 2024
 * then has its exact totals and downloads as CSV and PDF.
 */
async function statementScenario(page, size) {
  await signUp(page, `${size}.import.${Date.now()}@example.com`, 'Emil')

  // The empty transactions list offers the import.
  await navigate(page, size, 'Transactions')
  await page.getByText('No transactions yet').waitFor()
  await page.getByRole('link', { name: 'Import a bank statement' }).click()
  await page.getByRole('heading', { name: 'Import a bank statement', level: 1 }).waitFor()
  await fitsTheScreen(page, 'Import')

  // A date that does not exist: the error names the file, the line and the column, and nothing is imported.
  await page.getByTestId('statement-file').setInputFiles(join(STATEMENTS, 'bad_date.csv'))
  await page.getByTestId('import-continue').click()
  const bad = page.getByTestId('import-columns-error')
  await bad.getByText(/bad_date\.csv, line 14, column 3/).waitFor()
  await bad.getByText('31/02/2024').waitFor()
  await fitsTheScreen(page, 'Import error')
  await screenshot(page, `${size}-import-error`)

  // A German bank's statement: the mapping step shows the guessed columns.
  await page.getByRole('button', { name: 'Back' }).click()
  await page.getByTestId('statement-file').setInputFiles(join(STATEMENTS, 'de_girokonto.csv'))
  await page.getByRole('heading', { name: 'Match the columns' }).waitFor()
  assert.match(await chosenOption(page, '#map-date'), /^Buchungstag/)
  assert.match(await chosenOption(page, '#map-amount'), /^Betrag \(EUR\)/)
  assert.match(await chosenOption(page, '#map-description'), /^Auftraggeber\/Empfänger/)
  assert.equal(await chosenOption(page, '#map-decimal'), 'Comma (1.234,56)')
  await page.getByRole('table', { name: 'First rows of de_girokonto.csv' }).getByText('REWE Markt Köln').waitFor()
  await fitsTheScreen(page, 'Import columns')
  await screenshot(page, `${size}-import-columns`)
  await page.getByTestId('import-continue').click()

  // The preview: 8 new rows (the zero-amount fee is skipped).
  await page.getByRole('heading', { name: 'Review the transactions' }).waitFor()
  await page.getByTestId('count-new').locator('dd').getByText('8', { exact: true }).waitFor()
  await page.getByTestId('count-duplicates').locator('dd').getByText('0', { exact: true }).waitFor()
  await page.getByTestId('count-skipped').locator('dd').getByText('1', { exact: true }).waitFor()
  assert.equal(await page.getByTestId('import-row').count(), 8)
  await page.getByTestId('import-row').filter({ hasText: 'Vermieter Hans Weiß' }).getByText('-€1,234.56').waitFor()
  // Unticking a row counts it as skipped; ticking it again brings it back.
  const rent = page.getByLabel(/^Import line \d+: Vermieter Hans Weiß/)
  await rent.uncheck()
  await page.getByTestId('count-new').locator('dd').getByText('7', { exact: true }).waitFor()
  await page.getByTestId('count-skipped').locator('dd').getByText('2', { exact: true }).waitFor()
  await rent.check()
  await page.getByTestId('count-new').locator('dd').getByText('8', { exact: true }).waitFor()
  await fitsTheScreen(page, 'Import preview')
  await page.evaluate(() => window.scrollTo(0, 0))
  await screenshot(page, `${size}-import-preview`)

  await page.getByRole('button', { name: 'Import 8 transactions' }).click()
  await page.getByTestId('import-outcome').getByText('Added 8 transactions; 1 skipped.').waitFor()
  await page.getByRole('link', { name: 'Report for March 2024' }).waitFor()
  await fitsTheScreen(page, 'Import result')
  await screenshot(page, `${size}-import-done`)

  // The same file again: nothing new, every row already imported.
  await page.getByRole('button', { name: 'Import another file' }).click()
  await page.getByTestId('statement-file').setInputFiles(join(STATEMENTS, 'de_girokonto.csv'))
  await page.getByTestId('import-continue').click()
  await page.getByTestId('count-new').locator('dd').getByText('0', { exact: true }).waitFor()
  await page.getByTestId('count-duplicates').locator('dd').getByText('8', { exact: true }).waitFor()
  assert.equal(await page.getByTestId('import-row').filter({ hasText: 'Already imported' }).count(), 8)
  assert.ok(await page.getByTestId('import-run').isDisabled(), 'nothing to import')
  await page.getByText('Nothing new to import').waitFor()

  // The report of March 2024: exact totals in euros, against February (nothing then).
  await navigate(page, size, 'Reports')
  await page.getByRole('heading', { name: 'Reports', level: 1 }).waitFor()
  await page.getByLabel('Period', { exact: true }).selectOption('custom')
  await page.getByLabel('From').fill('2024-03-01')
  await page.getByLabel('To', { exact: true }).fill('2024-03-31')
  // Back to whole months: the month of the days chosen.
  await page.getByLabel('Period', { exact: true }).selectOption('month')
  await page.getByTestId('period-label').getByText('March 2024').waitFor()
  const value = (measure) => page.getByTestId(`report-${measure}`).getByTestId('report-value')
  await value('income').getByText('€2,869.99', { exact: true }).waitFor()
  assert.equal((await value('expense').textContent()).trim(), '€1,519.98')
  assert.equal((await value('net').textContent()).trim(), '+€1,350.01')
  await page.getByTestId('report-expense').getByText('Nothing in February 2024 to compare with').waitFor()
  await page.getByTestId('report-expense-categories').getByTestId('report-line').first().waitFor()
  assert.equal(await page.getByTestId('report-row').count(), 8)
  await fitsTheScreen(page, 'Reports')
  await screenshot(page, `${size}-reports`)
  await page.screenshot({ path: join(outDir, `${size}-reports-full.png`), fullPage: true })

  // Downloads: the CSV and the PDF of the same period.
  const csvDownload = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Download CSV' }).first().click()
  const csv = await csvDownload
  assert.equal(csv.suggestedFilename(), 'expensotrack-report-2024-03-01-2024-03-31.csv')
  assert.match(await readFile(await csv.path(), 'utf8'), /REWE Markt Köln/)
  await page.getByTestId('notice').filter({ hasText: 'Saved expensotrack-report-2024-03-01-2024-03-31.csv.' }).waitFor()
  await page.getByLabel('Paper size').selectOption('a4')
  const pdfDownload = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Download PDF' }).click()
  const pdf = await pdfDownload
  assert.equal(pdf.suggestedFilename(), 'expensotrack-report-2024-03-01-2024-03-31.pdf')
  const bytes = await readFile(await pdf.path())
  assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-')

  // The address holds the period: a reload shows the same report.
  await page.reload()
  await page.getByTestId('period-label').getByText('March 2024').waitFor()
  await value('income').getByText('€2,869.99', { exact: true }).waitFor()
  await page.close()
}

describe('bank statements and reports', () => {
  test('at desktop size', async () => {
    await statementScenario(await newPage('desktop'), 'desktop')
  })

  test('at phone size', async () => {
    await statementScenario(await newPage('phone'), 'phone')
  })
})

describe('web dashboard at desktop size', () => {
  test('sign up, book, filter, edit, delete with undo, categories, password change and recovery', async () => {
    const page = await newPage('desktop')
    const email = `ana.${Date.now()}@example.com`
    await signUp(page, email, 'Ana')

    // A new ledger says how to start.
    await page.getByText('Nothing booked yet').waitFor()
    await screenshot(page, 'desktop-dashboard-empty')

    // The form refuses bad input beside the field and keeps what was typed.
    await page.getByRole('button', { name: 'Add the first one' }).click()
    const form = page.getByTestId('tx-form')
    await form.getByLabel('Amount').fill('12.345')
    await form.getByLabel('Description').fill('Weekly market')
    await form.getByRole('button', { name: 'Save' }).click()
    await form.getByText('EUR has 2 decimals at most.').waitFor()
    await form.getByText('Choose a category.').first().waitFor()
    assert.equal(await form.getByLabel('Description').inputValue(), 'Weekly market')
    await screenshot(page, 'desktop-form-errors')
    await form.getByLabel('Amount').fill('12,50')
    await form.getByLabel('Category').selectOption({ label: '🛒 Groceries' })
    await form.getByLabel(/^Tags/).fill('food, market')
    await form.getByLabel('Description').press('Enter')
    await form.waitFor({ state: 'detached' })
    await page.getByTestId('notice').filter({ hasText: 'Added “Weekly market”' }).waitFor()

    // More bookings through the keyboard shortcut.
    await page.keyboard.press('n')
    await addTransaction(page, { kind: 'income', amount: '2500', category: '💼 Salary', description: 'November salary' })
    await page.keyboard.press('n')
    await addTransaction(page, { amount: '40.10', category: '🚌 Transport', description: 'Fuel', tags: 'car' })

    // The dashboard's totals follow, exactly.
    const balance = page.getByTestId('balance')
    await balance.getByText('+€2,447.40').waitFor()
    await page.getByTestId('income').getByText('€2,500.00').waitFor()
    await page.getByTestId('expenses').getByText('€52.60').waitFor()
    await page.getByTestId('by-category').getByText('Groceries').waitFor()
    await page.getByTestId('recent').getByText('Fuel').waitFor()
    await screenshot(page, 'desktop-dashboard')

    // Transactions: search and filters.
    await page.getByRole('link', { name: 'Transactions' }).first().click()
    await page.getByTestId('tx-count').getByText('3 transactions').waitFor()
    await page.getByLabel('Search descriptions, notes and tags').fill('market')
    await page.getByTestId('tx-count').getByText('1 transaction').waitFor()
    await page.getByLabel('Search descriptions, notes and tags').fill('')
    await page.getByTestId('tx-count').getByText('3 transactions').waitFor()
    await page.getByRole('button', { name: /Filters/ }).click()
    await page.locator('#f-kind').selectOption('expense')
    await page.getByTestId('tx-count').getByText('2 transactions').waitFor()
    await page.locator('#f-min').fill('20')
    await page.locator('#f-min').press('Enter')
    await page.getByTestId('tx-count').getByText('1 transaction').waitFor()
    await page.getByTestId('tx-list').getByText('Fuel').waitFor()
    await screenshot(page, 'desktop-transactions-filtered')
    await page.getByRole('button', { name: 'Clear filters' }).click()
    await page.getByTestId('tx-count').getByText('3 transactions').waitFor()

    // Sorting by amount puts the salary first.
    await page.locator('#tx-sort').selectOption('amount:desc')
    await page.getByTestId('tx-row').first().getByText('November salary').waitFor()
    await page.locator('#tx-sort').selectOption('date:desc')

    // Edit an amount: the list and the totals change.
    await page.getByTestId('tx-list').getByText('Fuel').click()
    const edit = page.getByTestId('tx-form')
    await edit.getByLabel('Amount').fill('45.00')
    await edit.getByLabel('Amount').press('Enter')
    await edit.waitFor({ state: 'detached' })
    await page.getByTestId('tx-list').getByText('-€45.00').waitFor()
    await screenshot(page, 'desktop-transactions')

    // Delete with undo brings back the same record.
    const fuel = page.getByTestId('tx-row').filter({ hasText: 'Fuel' })
    const id = await fuel.getAttribute('data-id')
    await fuel.getByTestId('tx-delete').click()
    await page.getByTestId('tx-count').getByText('2 transactions').waitFor()
    await page.getByTestId('notice').getByRole('button', { name: 'Undo' }).click()
    await page.getByTestId('tx-count').getByText('3 transactions').waitFor()
    assert.equal(await page.getByTestId('tx-row').filter({ hasText: 'Fuel' }).getAttribute('data-id'), id)

    // Categories: add, rename, and delete one in use, moving its transactions.
    await page.getByRole('link', { name: 'Categories' }).first().click()
    await page.getByTestId('categories-expense').getByRole('button', { name: '+ Add category' }).click()
    const cat = page.getByTestId('category-form')
    await cat.getByLabel('Name').fill('Car')
    await cat.getByLabel('Icon').fill('🚙')
    await cat.getByRole('button', { name: 'Save' }).click()
    await page.getByTestId('category').filter({ hasText: 'Car' }).waitFor()
    // A duplicate name is refused beside the field.
    await page.getByTestId('categories-expense').getByRole('button', { name: '+ Add category' }).click()
    await cat.getByLabel('Name').fill('car')
    await cat.getByRole('button', { name: 'Save' }).click()
    await cat.locator('.error').waitFor()
    await cat.getByRole('button', { name: 'Cancel' }).click()
    await page.getByTestId('category').filter({ hasText: 'Car' }).getByRole('button', { name: 'Edit' }).click()
    await cat.getByLabel('Name').fill('Car costs')
    await cat.getByRole('button', { name: 'Save' }).click()
    await page.getByTestId('category').filter({ hasText: 'Car costs' }).waitFor()
    await screenshot(page, 'desktop-categories')

    await page.getByTestId('category').filter({ hasText: 'Transport' }).getByRole('button', { name: 'Delete' }).click()
    const del = page.getByTestId('category-delete')
    await del.getByText('1 transaction uses this category.').waitFor()
    await del.getByLabel(/Move it to/).selectOption({ label: '🚙 Car costs' })
    await del.getByRole('button', { name: 'Delete' }).click()
    await page.getByTestId('notice').filter({ hasText: '1 transactions moved' }).waitFor()
    await page.getByRole('link', { name: 'Transactions' }).first().click()
    await page.getByTestId('tx-row').filter({ hasText: 'Fuel' }).getByText('Car costs').waitFor()

    // Payment methods.
    await page.getByRole('link', { name: 'Categories' }).first().click()
    await page.getByRole('button', { name: 'Payment methods' }).click()
    await page.getByLabel('Add payment method').fill('PayPal')
    await page.getByRole('button', { name: 'Add payment method' }).click()
    await page.getByTestId('methods').getByText('PayPal').waitFor()

    // Settings: theme and base currency.
    await page.getByRole('link', { name: 'Settings' }).first().click()
    await page.getByRole('button', { name: 'Dark' }).click()
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark')
    await screenshot(page, 'desktop-settings-dark')
    await page.getByRole('button', { name: 'Light' }).click()

    // Export holds the ledger.
    const download = page.waitForEvent('download')
    await page.getByTestId('export').click()
    const file = await download
    assert.match(file.suggestedFilename(), /^expensotrack-export-\d{4}-\d{2}-\d{2}\.json$/)
    exportedFile = join(outDir, 'export.json')
    await file.saveAs(exportedFile)
    const exported = JSON.parse(await readFile(exportedFile, 'utf8'))
    assert.equal(exported.profile.email, email)
    assert.equal(exported.ledger.transactions.length, 3)

    // Account: change the password; the old one stops working.
    await page.getByRole('link', { name: 'Ana' }).click()
    await page.getByTestId('profile-email').getByText(email).waitFor()
    await page.getByTestId('sessions').getByText('This device').waitFor()
    await screenshot(page, 'desktop-account')
    const NEW = 'another long passphrase'
    await page.getByLabel('Current password').fill('wrong password here')
    await page.getByLabel('New password').fill(NEW)
    await page.getByLabel('Repeat the password').fill(NEW)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByTestId('password-form').locator('.error').waitFor()
    await page.getByLabel('Current password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByTestId('notice').filter({ hasText: 'Password changed' }).waitFor()

    await page.getByRole('button', { name: 'Log out' }).first().click()
    await page.getByRole('heading', { name: 'Welcome back' }).waitFor()
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByText('wrong e-mail or password').waitFor()
    await screenshot(page, 'desktop-login')

    // Password recovery through the e-mailed link.
    await page.getByRole('link', { name: 'Forgot your password?' }).click()
    await page.getByRole('heading', { name: 'Reset your password' }).waitFor()
    // The address typed on the login page comes along.
    assert.equal(await page.getByLabel('E-mail').inputValue(), email)
    await page.getByRole('button', { name: 'Send the link' }).click()
    await page.getByTestId('reset-sent').waitFor()
    const mail = await smtp.waitFor(new RegExp(`reset-password\\?token=`))
    const link = /(http:\/\/\S+reset-password\?token=[A-Za-z0-9_-]+)/.exec(mail)[1]
    await page.goto(link)
    const RESET = 'a third long passphrase'
    await page.getByLabel('New password').fill(RESET)
    await page.getByLabel('Repeat the password').fill(RESET)
    await page.getByRole('button', { name: 'Set the password' }).click()
    await page.getByTestId('reset-done').waitFor()
    await page.getByRole('link', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Welcome back' }).waitFor()
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(RESET)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
    await page.getByTestId('expenses').getByText('€57.50').waitFor()
    await page.close()
  })

  test("a reload stays signed in, another account imports the first one's export, unknown addresses", async () => {
    const page = await newPage('desktop')
    await signUp(page, `ben.${Date.now()}@example.com`, 'Ben')
    await page.reload()
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor()

    // Importing a file that is not a backup changes nothing; the export imports, once.
    assert.ok(exportedFile, 'the first test exported a file')
    await page.getByRole('link', { name: 'Settings' }).first().click()
    await page.getByTestId('import-file').setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"hello":1}') })
    await page.getByTestId('notice').filter({ hasText: 'Something went wrong' }).waitFor()
    await page.getByTestId('import-file').setInputFiles(exportedFile)
    await page.getByTestId('notice').filter({ hasText: 'Imported export.json: 3 transactions.' }).waitFor()
    await page.getByTestId('import-file').setInputFiles(exportedFile)
    await page.getByTestId('notice').filter({ hasText: 'Imported export.json' }).last().waitFor()
    await page.getByRole('link', { name: 'Transactions' }).first().click()
    await page.getByTestId('tx-count').getByText('3 transactions').waitFor()
    await page.getByTestId('tx-row').filter({ hasText: 'Fuel' }).getByText('Car costs').waitFor()

    await page.goto(server.base + '/no/such/page')
    await page.getByText('Page not found').waitFor()
    await page.close()
  })
})

describe('budgets, alerts and recurring transactions', () => {
  test('at desktop size', async () => {
    await plansScenario(await newPage('desktop'), 'desktop')
  })

  test('at phone size', async () => {
    await plansScenario(await newPage('phone'), 'phone')
  })
})

describe('web dashboard at phone size', () => {
  test('bottom navigation, the add button in reach, every screen fits 360 px', async () => {
    const page = await newPage('phone')
    await signUp(page, `cleo.${Date.now()}@example.com`, 'Cleo')
    await screenshot(page, 'phone-dashboard-empty')
    const add = page.getByRole('button', { name: 'Add transaction' }).last()
    assert.ok(await add.isVisible(), 'the add button is on screen')
    const box = await add.boundingBox()
    assert.ok(box.width >= 44 && box.height >= 44, `touch target ${box.width}×${box.height}`)
    await add.click()
    await screenshot(page, 'phone-form')
    await addTransaction(page, { amount: '3.20', category: '🛒 Groceries', description: 'Bakery', date: today() })
    await add.click()
    await addTransaction(page, { kind: 'income', amount: '150', category: '🧰 Freelance', description: 'Logo design' })
    await page.getByTestId('balance').getByText('+€146.80').waitFor()
    await screenshot(page, 'phone-dashboard')

    for (const [tab, name] of [
      ['Transactions', 'phone-transactions'],
      ['Budgets', 'phone-budgets-empty'],
      ['Recurring', 'phone-recurring-empty'],
      ['Categories', 'phone-categories'],
      ['Settings', 'phone-settings'],
    ]) {
      await navigate(page, 'phone', tab)
      await page.getByRole('heading', { name: tab, level: 1 }).waitFor()
      await fitsTheScreen(page, tab)
      await screenshot(page, name)
    }
    // "More" holds the other screens and closes with Esc, back on its button.
    const bar = page.getByRole('navigation').last()
    await bar.getByRole('button', { name: /^More/ }).click()
    await page.getByTestId('nav-more').getByRole('link', { name: 'Alerts' }).waitFor()
    await fitsTheScreen(page, 'More')
    await screenshot(page, 'phone-more')
    await page.keyboard.press('Escape')
    await page.getByTestId('nav-more').waitFor({ state: 'detached' })
    await navigate(page, 'phone', 'Transactions')
    await page.getByTestId('tx-count').getByText('2 transactions').waitFor()
    await page.close()
  })
})
