// A small W3C WebDriver client (the protocol is JSON over HTTP), enough to drive the real
// desktop app through tauri-driver and WebKitWebDriver: start it, find, click, type, read,
// wait, take screenshots.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, outDir, waitUntilServing } from './harness.mjs'

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

/** Starts `tauri-driver` (under the Xvfb display the caller runs in) with `env` for the app. */
export async function startDriver(env) {
  const port = await freePort()
  const nativePort = await freePort()
  const bin = process.env.TAURI_DRIVER ?? 'tauri-driver'
  const child = spawn(bin, ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const base = `http://127.0.0.1:${port}`
  await waitUntilServing(base + '/status', child, 'tauri-driver', 30)
  return {
    base,
    async stop() {
      child.kill('SIGTERM')
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.once('exit', ok)))
    },
  }
}

async function wd(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`)
  return json.value
}

/** One running app window. */
export class App {
  static async launch(driver, application) {
    const value = await wd(driver.base, 'POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application } } },
    })
    return new App(driver.base, value.sessionId)
  }

  constructor(base, session) {
    this.base = base
    this.session = session
  }

  req(method, path, body) {
    return wd(this.base, method, `/session/${this.session}${path}`, body)
  }

  /** Runs `fn` (its source) in the page with `args`; answers its result. */
  exec(fn, ...args) {
    return this.req('POST', '/execute/sync', { script: `return (${fn}).apply(null, arguments)`, args })
  }

  /** Waits until `fn` in the page answers something truthy. */
  async until(what, fn, ...args) {
    const deadline = Date.now() + (this.patience ?? 30000)
    let last
    for (;;) {
      try {
        last = await this.exec(fn, ...args)
        if (last) return last
      } catch (e) {
        last = e.message
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
      await new Promise((ok) => setTimeout(ok, 150))
    }
  }

  /** Waits for visible text anywhere in the page. */
  async waitForText(text, ms = 30000) {
    this.patience = ms
    try {
      return await this.until(`the text ${JSON.stringify(text)}`, (t) => document.body.innerText.includes(t), text)
    } finally {
      this.patience = undefined
    }
  }

  async find(css) {
    await this.until(`an element ${css}`, (c) => !!document.querySelector(c), css)
    const el = await this.req('POST', '/element', { using: 'css selector', value: css })
    const id = el?.[ELEMENT] ?? el?.ELEMENT
    if (!id) throw new Error(`no element id in ${JSON.stringify(el)}`)
    return id
  }

  async click(css) {
    const id = await this.find(css)
    await this.req('POST', `/element/${id}/click`, {})
  }

  /** Clicks the button or link whose text is `text`. */
  async clickText(text, selector = 'button, a') {
    await this.until(`a ${selector} saying ${JSON.stringify(text)}`, (t, s) => {
      const el = [...document.querySelectorAll(s)].find((e) => e.textContent.trim() === t && e.offsetParent !== null)
      if (el) el.setAttribute('data-wd-target', '1')
      return !!el
    }, text, selector)
    await this.click('[data-wd-target="1"]')
    await this.exec(() => document.querySelector('[data-wd-target="1"]')?.removeAttribute('data-wd-target'))
  }

  async type(css, text) {
    const id = await this.find(css)
    await this.req('POST', `/element/${id}/clear`, {})
    await this.req('POST', `/element/${id}/value`, { text })
  }

  /** Chooses an option of a <select> by its visible text. */
  async select(css, optionText) {
    await this.find(css)
    await this.until(`the option ${optionText} in ${css}`, (c, t) => {
      const s = document.querySelector(c)
      const o = [...s.options].find((x) => x.textContent.trim() === t)
      if (!o) return false
      s.value = o.value
      s.dispatchEvent(new Event('change', { bubbles: true }))
      return true
    }, css, optionText)
  }

  text(css) {
    return this.exec((c) => document.querySelector(c)?.innerText ?? null, css)
  }

  /** Waits for an element with some text (a card shows once its own figures arrive). */
  shownText(css) {
    return this.until(`text in ${css}`, (c) => document.querySelector(c)?.innerText || null, css)
  }

  async screenshot(name) {
    mkdirSync(outDir, { recursive: true })
    await new Promise((ok) => setTimeout(ok, 400))
    const png = await this.req('GET', '/screenshot')
    writeFileSync(join(outDir, `${name}.png`), Buffer.from(png, 'base64'))
  }

  async quit() {
    await this.req('DELETE', '')
  }
}
