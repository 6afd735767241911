// The web dashboard end to end, in real Chromium against the real sync server and databases,
// at desktop (1440×900) and phone (360×740) sizes. Screenshots of each main screen go to
// ui/e2e-output/ (not committed).
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { launchBrowser, outDir, screenshot, SIZES, smtpSink, startServer } from './harness.mjs'

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
      ['Categories', 'phone-categories'],
      ['Settings', 'phone-settings'],
    ]) {
      await page.getByRole('navigation').last().getByRole('link', { name: tab }).click()
      await page.getByRole('heading', { name: tab, level: 1 }).waitFor()
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      assert.ok(overflow <= 0, `${tab} is ${overflow}px wider than the screen`)
      await screenshot(page, name)
    }
    await page.getByRole('navigation').last().getByRole('link', { name: 'Transactions' }).click()
    await page.getByTestId('tx-count').getByText('2 transactions').waitFor()
    await page.close()
  })
})
