// Single sign-on for people: cairn against a real OpenID Connect provider
// (`oidc-provider`, the certified Node.js implementation, started here on
// loopback with its own login and consent pages), driven in Debian's
// chromium by playwright-core.
//
// olivia signs in through the provider from cairn's sign-in page: cairn
// makes her user on the first sign-in, maps her provider groups
// (registry-admins -> admins) to cairn groups, and she sees the
// administrators' pages. oscar (group eng -> devs only) sees no admin pages
// and may not do what admins may. A callback with another browser's state,
// without the sign-on cookie, or with an altered one starts no session and
// sends the browser back to the sign-in page with the reason; a
// `return_to` off this site is not followed; a local user of the same name
// is never taken over through the provider.
//
// Usage: node tests/e2e/ui/sso.mjs CAIRN_BINARY OUTPUT_DIR
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Provider from 'oidc-provider'
import { chromium } from 'playwright-core'
import { expect, freePort } from './common.mjs'

const [BIN, OUT] = process.argv.slice(2)
const SCREENS = join(OUT, 'ui-screens')
mkdirSync(SCREENS, { recursive: true })

// The provider's people and their groups there.
const PEOPLE = {
  olivia: ['registry-admins', 'eng'],
  oscar: ['eng', 'sales'],
  admin: ['registry-admins'],
}

async function startProvider(port, redirect) {
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: 'cairn',
      client_secret: 'a-test-secret',
      redirect_uris: [redirect],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // cairn always sends a PKCE challenge; the provider insists on one.
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], groups: ['groups'] },
    // The user's claims come from userinfo (the provider keeps the ID token
    // to `sub`), which cairn reads when the ID token lacks them.
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, preferred_username: sub, name: sub, groups: PEOPLE[sub] || [] }),
    }),
    cookies: { keys: ['a test-only cookie key'] },
    features: { devInteractions: { enabled: true } },
  })
  provider.on('server_error', (_ctx, err) => console.error('provider error:', err))
  await new Promise((resolve) => provider.listen(port, '127.0.0.1', resolve))
  return provider
}

async function main() {
  const [cairnPort, idpPort] = [await freePort(), await freePort()]
  const origin = `http://127.0.0.1:${cairnPort}`
  const issuer = `http://127.0.0.1:${idpPort}`
  await startProvider(idpPort, `${origin}/api/v1/session/oidc/callback`)

  const data = mkdtempSync(join(OUT, 'sso-data-'))
  const config = join(data, 'cairn.toml')
  writeFileSync(config, `
[auth]
anonymous_read = false

[auth.oidc]
issuer = "${issuer}"
client_id = "cairn"
display_name = "Test ID"
scopes = ["openid", "profile", "groups"]

[auth.oidc.groups]
registry-admins = ["admins"]
eng = ["devs"]
`)
  const cli = (...args) => {
    const r = spawnSync(BIN, [...args, '--data-dir', data], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`cairn ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  cli('group', 'create', 'admins', '--grant', '**:read,publish,yank,delete,admin')
  cli('group', 'create', 'devs', '--grant', 'team/**:read,publish')
  const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${cairnPort}`, '--data-dir', data, '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // The client's secret from the environment, not the file.
    env: { ...process.env, CAIRN_LOG: 'warn', CAIRN_AUTH__OIDC__CLIENT_SECRET: 'a-test-secret' },
  })
  process.on('exit', () => proc.kill('SIGKILL'))
  await new Promise((resolve, reject) => {
    let seen = ''
    proc.stdout.on('data', (chunk) => {
      seen += chunk
      if (/password: (\S+)/.test(seen)) resolve()
    })
    proc.on('exit', (code) => reject(new Error(`cairn exited (${code})`)))
    setTimeout(() => reject(new Error('cairn did not start')), 30000)
  })

  const methods = await (await fetch(`${origin}/api/v1/session/methods`)).json()
  expect(methods.oidc && methods.oidc.name === 'Test ID', `the sign-in methods name the provider: ${JSON.stringify(methods)}`)

  // The start sends the browser to the provider with a PKCE challenge,
  // state and nonce, and sets the flow cookie.
  const start = await fetch(`${origin}/api/v1/session/oidc?return_to=/ui/%23/storage`, { redirect: 'manual' })
  const to = new URL(start.headers.get('location'))
  const flowCookie = (start.headers.get('set-cookie') || '').split(';')[0]
  expect(start.status === 303 && to.origin === issuer, `the start redirects to the provider (${start.status} ${to.origin})`)
  expect(to.searchParams.get('code_challenge_method') === 'S256' && to.searchParams.get('code_challenge')
    && to.searchParams.get('state') && to.searchParams.get('nonce'), 'with a PKCE S256 challenge, a state and a nonce')
  expect(/HttpOnly/.test(start.headers.get('set-cookie')) && /SameSite=Lax/.test(start.headers.get('set-cookie')),
    'the flow cookie is HttpOnly and SameSite=Lax (it must come back from the provider)')

  // Hostile callbacks: none starts a session; each goes back to sign-in with the reason.
  const callback = async (query, cookie) => {
    const r = await fetch(`${origin}/api/v1/session/oidc/callback?${query}`, {
      redirect: 'manual', headers: cookie ? { Cookie: cookie } : {},
    })
    return { status: r.status, location: r.headers.get('location') || '', cookies: r.headers.get('set-cookie') || '' }
  }
  const wrongState = await callback('code=x&state=not-yours', flowCookie)
  expect(wrongState.status === 303 && /sso_error=.*state/.test(decodeURIComponent(wrongState.location)) && !/cairn_session=[^;]/.test(wrongState.cookies),
    `a callback with another state is refused (${decodeURIComponent(wrongState.location)})`)
  const noCookie = await callback(`code=x&state=${to.searchParams.get('state')}`)
  expect(/sso_error=.*did(\+|%20| )not(\+|%20| )start/.test(noCookie.location) && !/cairn_session/.test(noCookie.cookies),
    'a callback from a browser that started no sign-on is refused')
  const [name, value] = flowCookie.split('=')
  const altered = `${name}=${value.slice(0, -2)}${value.endsWith('00') ? '11' : '00'}`
  const tampered = await callback(`code=x&state=${to.searchParams.get('state')}`, altered)
  expect(/sso_error=.*altered/.test(tampered.location), 'an altered flow cookie is refused')
  const offsite = await fetch(`${origin}/api/v1/session/oidc?return_to=//evil.example/`, { redirect: 'manual' })
  const offsiteFlow = JSON.parse(Buffer.from(offsite.headers.get('set-cookie').split(';')[0].split('=')[1].split('.')[0], 'base64url'))
  expect(offsiteFlow.return_to === '/ui/', 'a return_to off this site is replaced by the UI')

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] })
  try {
    const signInThroughProvider = async (login) => {
      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`${origin}/ui/#/storage`)
      await page.getByRole('link', { name: 'Sign in with Test ID' }).click()
      await page.waitForURL((u) => u.origin === issuer)
      await page.fill('input[name="login"]', login)
      await page.fill('input[name="password"]', 'anything')
      await page.click('button[type="submit"]')
      // The provider asks for consent once per client.
      await page.waitForLoadState()
      if (new URL(page.url()).origin === issuer) await page.click('button[type="submit"]')
      await page.waitForURL((u) => u.origin === origin)
      return { context, page }
    }

    const olivia = await signInThroughProvider('olivia')
    await olivia.page.getByText('Signed in as olivia').or(olivia.page.getByRole('heading', { name: /Storage/ })).first().waitFor()
    expect(new URL(olivia.page.url()).hash === '#/storage', `back where she started (${olivia.page.url()})`)
    const nav = await olivia.page.getByRole('navigation', { name: 'Main' }).innerText()
    expect(/Audit log/.test(nav) && /Storage/.test(nav), 'olivia (registry-admins -> admins) sees the administrators\' pages')
    await olivia.page.screenshot({ path: join(SCREENS, 'sso-signed-in.png'), fullPage: true })
    const cookies = await olivia.context.cookies(origin)
    const session = cookies.find((c) => c.name === 'cairn_session')
    expect(session && session.httpOnly && session.sameSite === 'Strict', 'her session cookie is HttpOnly and SameSite=Strict')
    const me = await (await fetch(`${origin}/api/v1/session`, { headers: { Cookie: `cairn_session=${session.value}` } })).json()
    expect(me.user === 'olivia' && me.admin === true, `the session is olivia's, an administrator (${JSON.stringify(me)})`)
    const audit = await (await fetch(`${origin}/api/v1/audit?action=user.sign_in`, { headers: { Cookie: `cairn_session=${session.value}` } })).json()
    const entries = audit.entries || audit
    expect(JSON.stringify(entries).includes(`oidc:${issuer}`), 'the sign-in is in the audit log with the provider')

    const oscar = await signInThroughProvider('oscar')
    await oscar.page.getByText('Signed in as oscar').waitFor()
    const oscarNav = await oscar.page.getByRole('navigation', { name: 'Main' }).innerText()
    expect(!/Audit log/.test(oscarNav) && !/Storage/.test(oscarNav), 'oscar (eng -> devs) sees no administrators\' pages')
    const oscarSession = (await oscar.context.cookies(origin)).find((c) => c.name === 'cairn_session').value
    const oscarAudit = await fetch(`${origin}/api/v1/audit`, { headers: { Cookie: `cairn_session=${oscarSession}` } })
    expect(oscarAudit.status === 403, `oscar may not read the audit log (${oscarAudit.status})`)

    // The provider's "admin" is not cairn's local admin.
    const admin = await signInThroughProvider('admin')
    await admin.page.getByRole('alert').waitFor()
    const alert = await admin.page.getByRole('alert').innerText()
    expect(/signs in with a password here/.test(alert), `a local user is not taken over through the provider (${alert})`)
    const adminCookies = await admin.context.cookies(origin)
    expect(!adminCookies.some((c) => c.name === 'cairn_session'), 'and no session was made')
    await admin.page.screenshot({ path: join(SCREENS, 'sso-refused.png'), fullPage: true })
  } finally {
    await browser.close()
  }
  console.log('sso: all passed')
  process.exit(0)
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`)
  process.exit(1)
})
