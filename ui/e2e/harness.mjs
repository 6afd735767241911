// The real parts the browser tests run against: the sync server binary (with the built UI,
// real PostgreSQL and a real MongoDB-wire server), a local SMTP sink that receives the
// recovery e-mails, and Debian's Chromium driven by playwright-core.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const uiDir = resolve(here, '..')
export const outDir = join(uiDir, 'e2e-output')
const repo = resolve(uiDir, '..')

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

/** Waits until `url` answers 200 while `child` (the process that should serve it) runs. */
export async function waitUntilServing(url, child, what, seconds) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    try {
      const res = await fetch(url)
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`)
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${seconds} s`)
    await new Promise((ok) => setTimeout(ok, 200))
  }
}

/** A minimal SMTP server that keeps every message it is sent. */
export async function smtpSink() {
  const messages = []
  const waiters = []
  const server = createServer((socket) => {
    let data = false
    let buffer = ''
    let message = ''
    socket.write('220 sink ESMTP\r\n')
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8')
      let i
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 2)
        if (data) {
          if (line === '.') {
            data = false
            messages.push(message)
            for (const w of waiters.splice(0)) w()
            message = ''
            socket.write('250 queued\r\n')
          } else message += (line.startsWith('..') ? line.slice(1) : line) + '\n'
          continue
        }
        const cmd = line.slice(0, 4).toUpperCase()
        if (cmd === 'EHLO') socket.write('250-sink\r\n250 8BITMIME\r\n')
        else if (cmd === 'HELO') socket.write('250 sink\r\n')
        else if (cmd === 'DATA') {
          data = true
          socket.write('354 go ahead\r\n')
        } else if (cmd === 'QUIT') {
          socket.write('221 bye\r\n')
          socket.end()
        } else socket.write('250 ok\r\n')
      }
    })
    socket.on('error', () => {})
  })
  const port = await freePort()
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok))
  return {
    port,
    messages,
    /** Waits for a message whose text matches. */
    async waitFor(pattern, ms = 15000) {
      const deadline = Date.now() + ms
      for (;;) {
        const found = messages.find((m) => pattern.test(m.replace(/=\r?\n/g, '').replace(/=3D/g, '=')))
        if (found) return found.replace(/=\r?\n/g, '').replace(/=3D/g, '=')
        if (Date.now() > deadline) throw new Error(`no e-mail matching ${pattern} within ${ms} ms`)
        await new Promise((ok) => {
          waiters.push(ok)
          setTimeout(ok, 200)
        })
      }
    },
    close: () => new Promise((ok) => server.close(ok)),
  }
}

/**
 * Starts `expenso-server` serving the built UI on fresh databases; answers its base URL,
 * `stop()` and `start()` (again, on the same databases and port: a server that went away and
 * came back).
 */
export async function startServer(smtpPort) {
  const bin = process.env.EXPENSO_SERVER_BIN ?? join(repo, 'target/debug/expenso-server')
  const database = process.env.DATABASE_URL
  const mongo = process.env.MONGODB_URI
  if (!database || !mongo) throw new Error('DATABASE_URL and MONGODB_URI must point at the test databases (cargo xtask test sets them)')
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const dbName = `e2e_${process.pid}_${Date.now()}`
  const pgUrl = await createPgDatabase(database, dbName)
  const env = {
    ...process.env,
    DATABASE_URL: pgUrl,
    MONGODB_URI: mongo,
    MONGODB_DATABASE: dbName,
    EXPENSO_LISTEN: `127.0.0.1:${port}`,
    EXPENSO_WEB_DIR: join(uiDir, 'dist'),
    EXPENSO_PUBLIC_URL: base,
    EXPENSO_AUTH_PER_MINUTE: '1000',
    // No test or benchmark reaches the real ECB (the machines have no way out).
    EXPENSO_ECB_URL: process.env.EXPENSO_ECB_URL ?? 'http://127.0.0.1:9/',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtpPort ?? 25),
    SMTP_SECURITY: 'none',
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
  }
  let child = null
  let exited = null
  async function start() {
    child = spawn(bin, [], { env, stdio: ['ignore', 'inherit', 'inherit'] })
    exited = new Promise((ok) => child.once('exit', ok))
    await waitUntilServing(base + '/readyz', child, 'expenso-server', 60)
  }
  await start()
  return {
    base,
    start,
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** A fresh PostgreSQL database for this run, so runs never see each other's accounts. */
async function createPgDatabase(url, name) {
  const { execFileSync } = await import('node:child_process')
  execFileSync('psql', [url, '-q', '-c', `CREATE DATABASE ${name}`], { stdio: 'inherit' })
  const u = new URL(url)
  u.pathname = '/' + name
  return u.toString()
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export const SIZES = {
  desktop: { width: 1440, height: 900 },
  phone: { width: 360, height: 740 },
}

export async function screenshot(page, name) {
  mkdirSync(outDir, { recursive: true })
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: false })
}
