// cairn's web UI in Debian's chromium, driven by playwright-core.
//
// A real `cairn serve`; people made through the admin API. The admin signs
// in with a password and sees the overview, the audit log and storage;
// makes an API token and revokes it (confirmed); searches by a digest
// prefix, a purl and a name (and dave, who may read only team/**, finds
// only what is there); bob, who is no
// administrator, is offered neither page, and a change his page sends
// without the session's CSRF token (a forged request) is refused; carol
// turns on two-factor authentication in the UI (the code computed here, RFC
// 6238), signs out, and signs in again with a password and a code. Every
// page answers with a strict Content-Security-Policy and breaks none of it;
// axe-core finds no serious or critical accessibility violation on the main
// pages. Screenshots go to OUT/ui-screens.
//
// Usage: node tests/e2e/ui/ui.mjs CAIRN_BINARY OUTPUT_DIR
import { spawn, spawnSync } from 'node:child_process'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { expect, freePort } from './common.mjs'

const require = createRequire(import.meta.url)
const [BIN, OUT] = process.argv.slice(2)
const SCREENS = join(OUT, 'ui-screens')
mkdirSync(SCREENS, { recursive: true })
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const c of s.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0')
  const out = []
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2))
  return Buffer.from(out)
}

// RFC 6238: HMAC-SHA-1 over the 30-second step, dynamic truncation, 6 digits.
function totp(secret, at = Date.now() / 1000) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)))
  const mac = createHmac('sha1', base32(secret)).update(counter).digest()
  const o = mac[mac.length - 1] & 15
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0')
}

async function startCairn(port, env) {
  const data = mkdtempSync(join(OUT, 'ui-data-'))
  const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', data], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // Reads need a credential, so that what each user may read differs.
    env: { ...process.env, CAIRN_LOG: 'warn', CAIRN_AUTH__ANONYMOUS_READ: 'false', ...env },
  })
  // However this test ends (a failed expectation exits at once), the server goes.
  process.on('exit', () => proc.kill('SIGKILL'))
  const password = await new Promise((resolve, reject) => {
    let seen = ''
    proc.stdout.on('data', (chunk) => {
      seen += chunk
      const m = seen.match(/password: (\S+)/)
      if (m) resolve(m[1])
    })
    proc.on('exit', (code) => reject(new Error(`cairn exited (${code})`)))
    setTimeout(() => reject(new Error('cairn printed no admin password')), 30000)
  })
  return { proc, password, data }
}

const TOOLS = join(dirname(dirname(dirname(dirname(fileURLToPath(import.meta.url))))), '.tools', 'bin')

function tool(name, args, opts = {}) {
  const r = spawnSync(join(TOOLS, name), args, { encoding: 'utf8', ...opts, env: { ...process.env, ...opts.env } })
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

async function main() {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  // A cosign key cairn trusts (signer "ci"), for the signed image below.
  const keys = mkdtempSync(join(OUT, 'ui-cosign-'))
  tool('cosign', ['generate-key-pair'], { cwd: keys, env: { COSIGN_PASSWORD: 'test' } })
  const { proc, password, data } = await startCairn(port, {
    CAIRN_SIGNING_KEY: `[{id = "ci", file = "${join(keys, 'cosign.pub')}"}]`,
    // A retention policy to preview (the collector, which would apply it, is off here).
    CAIRN_RETENTION: '[{name = "nightlies", repositories = ["prod/**"], tags = "^nightly$", keep_last = 0}]',
    CAIRN_GC__ENABLED: 'false',
    // A proxy (its upstream never answers: nothing gets cached) and a
    // virtual repository over the hosted npm repository and the proxy.
    CAIRN_PROXY: '[{format = "npm", name = "npmjs", upstream = "http://127.0.0.1:9/"}]',
    CAIRN_VIRTUAL: '[{format = "npm", name = "all", members = ["main", "npmjs"]}]',
  })
  const admin = 'Basic ' + Buffer.from(`admin:${password}`).toString('base64')
  const call = async (method, path, body, auth = admin) => {
    const r = await fetch(`${origin}/api/v1${path}`, {
      method,
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
    })
    return { status: r.status, data: await r.json().catch(() => null) }
  }
  // Something to see on the storage page: two images in two namespaces.
  const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`
  const pushBlob = async (repo, bytes) => {
    const start = await fetch(`${origin}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { Authorization: admin } })
    const loc = new URL(start.headers.get('location'), origin)
    loc.searchParams.set('digest', sha(bytes))
    const put = await fetch(loc, { method: 'PUT', headers: { Authorization: admin, 'Content-Type': 'application/octet-stream' }, body: bytes })
    if (put.status !== 201) throw new Error(`blob upload: ${put.status}`)
  }
  const manifests = {}
  for (const [repo, size] of [['team/app', 300000], ['prod/api', 120000]]) {
    const layer = randomBytes(size)
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}')
    await pushBlob(repo, layer)
    await pushBlob(repo, config)
    const manifest = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    })
    const r = await fetch(`${origin}/v2/${repo}/manifests/1`, {
      method: 'PUT', headers: { Authorization: admin, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest,
    })
    if (r.status !== 201) throw new Error(`manifest push: ${r.status}`)
    manifests[repo] = sha(Buffer.from(manifest))
  }
  // A tag the retention policy would delete, and a quota to show.
  const nightly = await fetch(`${origin}/v2/prod/api/manifests/nightly`, {
    method: 'PUT', headers: { Authorization: admin, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: (await (await fetch(`${origin}/v2/prod/api/manifests/1`, { headers: { Authorization: admin, Accept: 'application/vnd.oci.image.manifest.v1+json' } })).arrayBuffer()),
  })
  if (nightly.status !== 201) throw new Error(`nightly tag: ${nightly.status}`)
  if ((await call('PUT', '/quotas?scope=team/', { max_unique_bytes: '10 MiB' })).status !== 200) throw new Error('quota')
  // An index of two platforms, signed with cosign and given an SPDX SBOM with oras.
  const children = []
  for (const arch of ['amd64', 'arm64']) {
    const layer = Buffer.from(`layer for ${arch}`)
    const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', created: '2026-11-30T12:00:00Z' }))
    await pushBlob('team/multi', layer)
    await pushBlob('team/multi', config)
    const body = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    })
    const r = await fetch(`${origin}/v2/team/multi/manifests/${sha(Buffer.from(body))}`, {
      method: 'PUT', headers: { Authorization: admin, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body,
    })
    if (r.status !== 201) throw new Error(`platform manifest push: ${r.status}`)
    children.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(Buffer.from(body)), size: body.length, platform: { architecture: arch, os: 'linux' } })
  }
  const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children })
  const indexPut = await fetch(`${origin}/v2/team/multi/manifests/1`, {
    method: 'PUT', headers: { Authorization: admin, 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index,
  })
  if (indexPut.status !== 201) throw new Error(`index push: ${indexPut.status}`)
  const oldTag = await fetch(`${origin}/v2/team/multi/manifests/old`, {
    method: 'PUT', headers: { Authorization: admin, 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index,
  })
  if (oldTag.status !== 201) throw new Error(`index push as old: ${oldTag.status}`)
  manifests['team/multi'] = sha(Buffer.from(index))
  const host = `127.0.0.1:${port}`
  tool('cosign', ['sign', '--key', join(keys, 'cosign.key'), '--use-signing-config=false', '--tlog-upload=false',
    '--new-bundle-format=false', '--allow-http-registry', '--registry-username', 'admin', `--registry-password=${password}`,
    `${host}/team/multi@${manifests['team/multi']}`], { env: { COSIGN_PASSWORD: 'test', COSIGN_YES: 'true' } })
  writeFileSync(join(keys, 'multi.spdx.json'), JSON.stringify({
    spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'multi',
    documentNamespace: 'https://example.com/multi', creationInfo: { created: '2026-11-30T12:00:00Z', creators: ['Tool: test'] },
    packages: ['pkg:npm/lodash@4.17.21', 'pkg:pypi/requests@2.32.3'].map((purl, i) => ({
      SPDXID: `SPDXRef-${i}`, name: purl.split('/').pop().split('@')[0], downloadLocation: 'NOASSERTION',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl }],
    })),
  }))
  tool('oras', ['attach', '--plain-http', '-u', 'admin', `--password=${password}`, '--artifact-type', 'application/spdx+json',
    `${host}/team/multi@${manifests['team/multi']}`, 'multi.spdx.json:application/spdx+json'], { cwd: keys })
  // And an npm package, published by npm itself.
  const token = (await call('POST', '/tokens', { description: 'ui test publish', scopes: ['npm/**:read,publish'] })).data.token
  const pkg = mkdtempSync(join(OUT, 'ui-pkg-'))
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'ui-demo', version: '1.0.0', description: 'searched for' }))
  writeFileSync(join(pkg, 'index.js'), 'module.exports = 1\n')
  const published = spawnSync('npm', ['publish', pkg, `--registry=${origin}/npm/main/`,
    `--//127.0.0.1:${port}/npm/main/:_authToken=${token}`, `--cache=${join(pkg, '.cache')}`], { encoding: 'utf8' })
  if (published.status !== 0) throw new Error(`npm publish: ${published.stderr}`)
  // Two packages depending on it, one in a repository not everyone may read.
  for (const [name, repo] of [['ui-consumer', 'main'], ['ui-hidden', 'private']]) {
    const dir = mkdtempSync(join(OUT, 'ui-pkg-'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', dependencies: { 'ui-demo': '^1.0.0' } }))
    const r = spawnSync('npm', ['publish', dir, `--registry=${origin}/npm/${repo}/`,
      `--//127.0.0.1:${port}/npm/${repo}/:_authToken=${token}`, `--cache=${join(dir, '.cache')}`], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`npm publish ${name}: ${r.stderr}`)
  }
  // An advisory affecting ui-demo below 1.0.1 (OSV, imported on the stores).
  const osv = join(pkg, 'GHSA-uidm-0000-0001.json')
  writeFileSync(osv, JSON.stringify({
    id: 'GHSA-uidm-0000-0001', modified: '2026-11-01T00:00:00Z', summary: 'ui-demo leaks the demo',
    affected: [{ package: { ecosystem: 'npm', name: 'ui-demo' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.1' }] }] }],
    database_specific: { severity: 'HIGH' },
  }))
  const imported = spawnSync(BIN, ['vuln', 'import', osv, '--data-dir', data], { encoding: 'utf8', env: { ...process.env, CAIRN_LOG: 'warn' } })
  if (imported.status !== 0) throw new Error(`cairn vuln import: ${imported.stderr}`)
  const users = {}
  for (const [name, grants] of [['bob', ['**:read']], ['carol', ['**:read,publish']], ['dave', ['team/**:read']], ['erin', ['npm/main:read']]]) {
    const r = await call('POST', '/users', { name, grants })
    users[name] = r.data.password
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  try {
    await scenario(browser, origin, password, users, manifests)
  } finally {
    await browser.close()
    proc.kill('SIGTERM')
  }
}

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } })
  const page = await context.newPage()
  const violations = []
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text())
  })
  page.on('dialog', (d) => d.accept())
  return { page, violations }
}

async function axe(page, what) {
  await page.evaluate(AXE)
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }))
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(bad.length === 0, `axe-core: no serious or critical violations on ${what}` +
    (bad.length ? `: ${bad.map((v) => `${v.id} (${v.nodes.length})`).join(', ')}` : ''))
}

async function signIn(page, origin, user, password, otp) {
  const started = Date.now()
  const resp = await page.goto(`${origin}/`)
  const csp = resp.headers()['content-security-policy'] || ''
  await page.getByLabel('User').waitFor()
  const interactive = Date.now() - started
  await page.getByLabel('User').fill(user)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  if (otp) {
    await page.getByLabel('One-time password').waitFor()
    await page.getByLabel('One-time password').fill(otp())
    await page.getByRole('button', { name: 'Sign in' }).click()
  }
  await page.getByText(`Signed in as ${user}`).waitFor()
  return { csp, interactive }
}

async function scenario(browser, origin, password, users, manifests) {
  // --- The administrator.
  const { page, violations } = await newPage(browser)
  await page.goto(`${origin}/`)
  await page.getByLabel('User').waitFor()
  await page.screenshot({ path: join(SCREENS, 'sign-in.png') })
  await axe(page, 'the sign-in page')
  const { csp, interactive } = await signIn(page, origin, 'admin', password)
  expect(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"),
    'the page is served with a strict Content-Security-Policy')
  console.log(`# the sign-in form was interactive ${interactive} ms after navigation`)
  expect(await page.getByRole('link', { name: 'Audit log' }).isVisible(), 'the admin signs in with a password and is offered the audit log')
  await page.screenshot({ path: join(SCREENS, 'overview.png') })
  await axe(page, 'the overview')

  await page.getByRole('link', { name: 'Tokens' }).click()
  await page.getByLabel('Description').fill('made in the browser')
  await page.getByLabel('Scopes').fill('npm/**:read')
  await page.getByRole('button', { name: 'Create token' }).click()
  const token = (await page.getByTestId('new-token').textContent()).trim()
  expect(token.startsWith('cairn_'), 'a token made in the UI is shown once')
  await page.getByRole('cell', { name: 'made in the browser', exact: true }).waitFor()
  await page.screenshot({ path: join(SCREENS, 'tokens.png') })
  await axe(page, 'the tokens page')
  const works = await fetch(`${origin}/api/v1/session`, { headers: { Authorization: `Bearer ${token}` } })
  expect(works.status === 200, 'the token works')
  await page.getByRole('button', { name: 'Revoke made in the browser' }).click()
  await page.getByRole('cell', { name: 'made in the browser', exact: true }).waitFor({ state: 'detached' })
  const revoked = await fetch(`${origin}/api/v1/session`, { headers: { Authorization: `Bearer ${token}` } })
  expect(revoked.status === 401, 'revoking it in the UI (confirmed) ends it')

  await page.getByRole('link', { name: 'Audit log' }).click()
  await page.getByLabel('Action').fill('token.revoke')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.getByRole('cell', { name: 'token.revoke' }).first().waitFor()
  const actions = await page.locator('tbody tr td:nth-child(3)').allTextContents()
  expect(actions.length > 0 && actions.every((a) => a === 'token.revoke'),
    `the audit log, filtered by action, shows the revocation and nothing else (${actions.join(', ')})`)
  await page.getByLabel('Action').fill('manifest.put')
  await page.getByLabel('Artifact').fill(manifests['team/app'])
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.getByRole('cell', { name: manifests['team/app'] }).waitFor()
  const pushes = await page.locator('tbody tr').allTextContents()
  expect(pushes.length === 1 && pushes[0].includes('team/app') && pushes[0].includes('admin'),
    `filtered by an artifact (a digest): its one push, by admin (${pushes.length} rows)`)
  await page.screenshot({ path: join(SCREENS, 'audit.png') })
  await axe(page, 'the audit log')

  await page.getByRole('link', { name: 'Storage' }).click()
  await page.getByRole('heading', { name: 'Storage' }).waitFor()
  await page.getByText('Everything:').waitFor()
  await page.getByRole('cell', { name: 'team/', exact: true }).first().waitFor()
  await page.getByRole('cell', { name: 'prod/', exact: true }).waitFor()
  expect(true, 'the storage page shows the numbers of each namespace pushed to')
  const quotaRow = page.getByTestId('quotas').getByRole('row', { name: /team\// })
  expect((await quotaRow.textContent()).includes('10.0 MiB'), 'and the quota on team/ with its use')
  await page.getByRole('button', { name: 'Preview retention' }).click()
  await page.getByTestId('retention-summary').waitFor()
  const preview = await page.locator('details').first().textContent()
  expect((await page.getByTestId('retention-summary').textContent()).startsWith('1 deletion') && preview.includes('prod/api') &&
    preview.includes('nightly') && preview.includes('nightlies'),
    `the retention preview lists the nightly tag of prod/api under the policy nightlies, and why (${preview})`)
  const still = await fetch(`${origin}/v2/prod/api/manifests/nightly`, { method: 'HEAD', headers: { Authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64') } })
  expect(still.status === 200, 'a preview deletes nothing')
  await page.screenshot({ path: join(SCREENS, 'storage.png'), fullPage: true })
  await axe(page, 'the storage page')
  // --- Search: a digest prefix, a purl, a name; the install command to copy.
  const search = async (text) => {
    await page.getByLabel('Search').fill(text)
    await page.getByLabel('Search').press('Enter')
    await page.getByTestId('search-summary').waitFor()
    return page.getByTestId('hit')
  }
  const prefix = manifests['team/app'].slice(0, 7 + 12)
  let hits = await search(prefix)
  expect(await hits.count() === 1 && (await hits.first().textContent()).includes('tags: 1') &&
    (await hits.first().textContent()).includes(`crane pull 127.0.0.1:`),
  'search by a digest prefix finds the image, its tag and the crane pull command')
  await page.screenshot({ path: join(SCREENS, 'search.png') })
  await axe(page, 'the search results')

  const adminAuth = { Authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64') }
  // --- An image: an index of two platforms, signed, with an SBOM.
  hits = await search(manifests['team/multi'].slice(0, 19))
  await hits.first().getByRole('link', { name: manifests['team/multi'] }).click()
  const platforms = page.getByTestId('platforms')
  await platforms.waitFor()
  const platformText = await platforms.textContent()
  expect(platformText.includes('linux/amd64') && platformText.includes('linux/arm64'), 'the image page of the index lists its two platforms')
  expect((await page.getByTestId('tags').textContent()).replace(/×/g, '').replace(/\s/g, '') === '1,old', 'and the tags naming it')
  await page.getByRole('button', { name: 'Delete tag old' }).click()
  await page.getByRole('button', { name: 'Delete tag old' }).waitFor({ state: 'detached' })
  const gone = await fetch(`${origin}/v2/team/multi/manifests/old`, { method: 'HEAD', headers: adminAuth })
  expect((await page.getByTestId('tags').textContent()).replace(/×/g, '').trim() === '1' && gone.status === 404,
    `deleting the tag old (confirmed) on the image page: gone for clients too (${gone.status})`)
  await page.getByTestId('sboms').waitFor()
  expect(/spdx.*2 components/i.test(await page.getByTestId('sboms').textContent()), 'its SBOM, with its two components')
  await page.getByTestId('sboms').getByText('components', { exact: true }).click()
  await page.getByTestId('sbom-components').waitFor()
  const components = await page.getByTestId('sbom-components').textContent()
  expect(components.includes('pkg:npm/lodash@4.17.21') && components.includes('pkg:pypi/requests@2.32.3'),
    `unfolded, the SBOM's components from its document (${components})`)
  const clients = await page.locator('details.clients').textContent()
  expect(clients.includes('docker pull') && clients.includes('skopeo copy'), 'and the pull command for other clients (docker, skopeo, oras)')
  const signedBy = await page.getByTestId('signers').textContent()
  expect(signedBy.includes('ci'), `who signed it: ci (cosign, verified by cairn): ${signedBy}`)
  const referrers = await page.getByTestId('referrers').textContent()
  expect(referrers.includes('application/spdx+json') && referrers.includes('.sig'), 'its referrers: the SBOM and the cosign signature')
  expect((await page.getByTestId('pushed').textContent()).includes('by admin'), 'when it was pushed, and by whom (the audit log)')
  expect(/never|\d{4}-\d\d-\d\d/.test(await page.getByTestId('pulled').textContent()), 'when it was last pulled')
  await page.screenshot({ path: join(SCREENS, 'image.png'), fullPage: true })
  await axe(page, 'the image page')
  await platforms.getByRole('link').nth(1).click()
  await page.getByText('Layers').waitFor()
  expect((await page.locator('dl.facts').textContent()).includes('linux/arm64'), 'a platform\'s page: its config says linux/arm64, with its layers')

  hits = await search('pkg:npm/ui-demo@1.0.0')
  expect(await hits.count() === 1 && (await hits.first().textContent()).includes('npm install ui-demo@1.0.0 --registry'),
    'search by purl finds the npm version and the npm install command')

  // --- A package version's page: yank it (confirmed, with a reason) and see
  // it marked on the page and in search; deprecate it and npm itself shows
  // the message; undo both.
  await hits.first().getByRole('link', { name: 'ui-demo' }).click()
  const row = page.locator('[data-testid="version"][data-version="1.0.0"]')
  await row.waitFor()
  expect((await row.textContent()).includes('admin') && (await row.getByTestId('state').textContent()) === 'active',
    'the package page lists 1.0.0, active, published by admin')
  expect((await page.getByLabel('Install command').textContent()).includes('npm install ui-demo@1.0.0'), 'with its install command')
  const dependents = await page.getByTestId('dependents').textContent()
  expect(dependents.includes('ui-consumer@1.0.0') && dependents.includes('ui-hidden@1.0.0'), `who depends on it: ${dependents}`)
  await page.getByTestId('provenance').waitFor()
  const provenance = await page.getByTestId('provenance').textContent()
  expect(provenance.includes('ui-demo-1.0.0.tgz') && provenance.includes('published by admin') && provenance.includes('with token'),
    `its provenance: cairn's publish attestation names the publisher and the token (${provenance.slice(0, 160)})`)
  const findings = await page.getByTestId('findings').textContent()
  expect(findings.includes('GHSA-uidm-0000-0001') && /high/i.test(findings), `its vulnerabilities: the advisory (${findings.slice(0, 120)})`)
  await page.screenshot({ path: join(SCREENS, 'package.png'), fullPage: true })
  await axe(page, 'the package page')
  await row.getByRole('button', { name: 'Yank…' }).click()
  await row.getByLabel('Reason (shown by pip and uv)').fill('broken build')
  await row.getByRole('button', { name: 'Yank 1.0.0' }).click()
  await row.getByText('broken build').waitFor()
  expect((await row.getByTestId('state').textContent()) === 'yanked', 'yanked from its page, with the reason shown')
  hits = await search('pkg:npm/ui-demo@1.0.0')
  expect((await hits.first().textContent()).includes('yanked'), 'the search marks it yanked')
  const yankAudit = await (await fetch(`${origin}/api/v1/audit?action=version.yank&limit=5`, { headers: adminAuth })).json()
  expect(JSON.stringify(yankAudit).includes('ui-demo@1.0.0'), 'the yank is in the audit log')
  await hits.first().getByRole('link', { name: 'ui-demo' }).click()
  await row.waitFor()
  await row.getByRole('button', { name: 'Unyank' }).click()
  await row.getByRole('button', { name: 'Deprecate…' }).waitFor()
  await row.getByRole('button', { name: 'Deprecate…' }).click()
  await row.getByLabel('Message (shown by npm and other clients)').fill('use 2.x')
  await row.getByRole('button', { name: 'Deprecate 1.0.0' }).click()
  await row.getByText('use 2.x').waitFor()
  const viewed = spawnSync('npm', ['view', 'ui-demo@1.0.0', 'deprecated', `--registry=${origin}/npm/main/`,
    `--${origin.replace('http:', '')}/npm/main/:_auth=${Buffer.from(`admin:${password}`).toString('base64')}`,
    `--cache=${join(OUT, 'ui-npm-cache')}`], { encoding: 'utf8' })
  expect(viewed.stdout.trim() === 'use 2.x', `deprecated from its page: npm view shows the message (${viewed.stdout.trim()} ${viewed.stderr.trim().slice(0, 200)})`)
  await page.screenshot({ path: join(SCREENS, 'package-deprecated.png'), fullPage: true })
  await row.getByRole('button', { name: 'Undeprecate' }).click()
  await row.getByRole('button', { name: 'Deprecate…' }).waitFor()
  expect((await row.getByTestId('state').textContent()) === 'active', 'undeprecated: active again')

  // --- Repositories: hosted, proxy (its cache) and virtual (where a version comes from).
  await page.getByRole('link', { name: 'Repositories' }).click()
  const repoTable = page.getByTestId('repositories')
  await repoTable.getByRole('link', { name: 'npmjs' }).waitFor()
  const repoText = await repoTable.textContent()
  expect(repoText.includes('caches http://127.0.0.1:9/') && repoText.includes('one URL over main, npmjs') &&
    repoText.includes('team/multi'), 'the repositories page lists the hosted, proxy and virtual repositories')
  await axe(page, 'the repositories page')
  // A hosted image repository's page: its tags, each to its image page.
  await repoTable.getByRole('link', { name: 'prod/api', exact: true }).click()
  await page.getByTestId('repository-tags').waitFor()
  const prodTags = await page.getByTestId('repository-tags').textContent()
  expect(prodTags.includes('nightly') && prodTags.includes(manifests['prod/api'].slice(7, 19)),
    `an image repository's page lists its tags with their digests (${prodTags.slice(0, 120)})`)
  await axe(page, 'an image repository\'s page')
  // A hosted package repository's page: its packages.
  await page.getByRole('link', { name: 'Repositories' }).click()
  await repoTable.getByRole('row', { name: /npm main hosted/ }).getByRole('link', { name: 'main' }).click()
  await page.getByTestId('repository-packages').waitFor()
  const mainPackages = await page.getByTestId('repository-packages').textContent()
  expect(mainPackages.includes('ui-demo') && mainPackages.includes('ui-consumer') && !mainPackages.includes('ui-hidden'),
    `a package repository's page lists its packages (${mainPackages})`)
  await page.getByRole('link', { name: 'Repositories' }).click()
  await repoTable.getByRole('link', { name: 'npmjs' }).click()
  await page.getByTestId('proxy-facts').waitFor()
  expect((await page.getByTestId('proxy-facts').textContent()).includes('0 objects'), 'a proxy\'s page: its upstream and what it holds (nothing yet)')
  await page.getByRole('link', { name: 'Repositories' }).click()
  await repoTable.getByRole('link', { name: 'all' }).click()
  await page.getByLabel('Package').fill('ui-demo')
  await page.getByLabel('Version').fill('1.0.0')
  await page.getByRole('button', { name: 'Where would it come from?' }).click()
  await page.getByTestId('resolution').waitFor()
  const resolution = await page.getByTestId('resolution').textContent()
  expect(resolution.includes('comes from npm/main'), `a virtual repository's page says where ui-demo 1.0.0 comes from (${resolution.slice(0, 160)})`)
  await page.screenshot({ path: join(SCREENS, 'virtual.png'), fullPage: true })

  // --- A command-line sign-in (cairn login --web, npm login) approved on
  // its page: the client's poll then takes the admin's session.
  const started = await (await fetch(`${origin}/api/v1/session/web`, { method: 'POST' })).json()
  await page.goto(started.login_url)
  await page.getByRole('button', { name: 'Approve sign-in' }).click()
  await page.getByTestId('approved').waitFor()
  await axe(page, 'the sign-in approval page')
  const taken = await fetch(started.done_url)
  const takenBody = await taken.json()
  expect(taken.status === 200 && takenBody.user === 'admin' && takenBody.token,
    'a command-line sign-in approved on its page: the client takes the session')
  await page.goto(`${origin}/ui/#/`)

  hits = await search('app')
  const names = await hits.allTextContents()
  expect(names.some((t) => t.includes('team/app')), 'search by name finds the image repository')
  const dave = 'Basic ' + Buffer.from(`dave:${users.dave}`).toString('base64')
  const asDave = async (q) => (await fetch(`${origin}/api/v1/search?q=${encodeURIComponent(q)}`, { headers: { Authorization: dave } })).json()
  const daveApi = await asDave('api')
  const daveApp = await asDave(manifests['team/app'].slice(0, 19))
  const daveNpm = await asDave('pkg:npm/ui-demo@1.0.0')
  expect(daveApi.hits.length === 0 && daveApp.hits.length === 1 && daveNpm.hits.length === 0,
    'a user who may read only team/** finds only what is under it')
  const daveRepos = (await (await fetch(`${origin}/api/v1/repositories`, { headers: { Authorization: dave } })).json()).repositories
  expect(daveRepos.length > 0 && daveRepos.every((r) => r.format === 'oci' && r.name.startsWith('team/')),
    `and is listed only the repositories under it (${daveRepos.map((r) => r.name).join(', ')})`)
  expect(violations.length === 0, `no Content-Security-Policy violation on the admin's pages ${violations.join(' | ')}`)

  // --- bob: no administrator; nothing he may not do is offered, and a
  // forged change is refused.
  const bob = await newPage(browser)
  await signIn(bob.page, origin, 'bob', users.bob)
  expect(!(await bob.page.getByRole('link', { name: 'Audit log' }).count()) &&
    !(await bob.page.getByRole('link', { name: 'Storage' }).count()),
  'a user who is no administrator is offered neither the audit log nor storage')
  await bob.page.goto(`${origin}/#/package/npm/main/ui-demo`)
  await bob.page.locator('[data-testid="version"]').first().waitFor()
  expect(!(await bob.page.getByRole('button', { name: /Yank|Deprecate/ }).count()),
    'a user who may only read sees the package page with no yank or deprecate')
  const erin = await newPage(browser)
  await signIn(erin.page, origin, 'erin', users.erin)
  await erin.page.goto(`${origin}/#/package/npm/main/ui-demo`)
  await erin.page.getByTestId('dependents').waitFor()
  const erinDependents = await erin.page.getByTestId('dependents').textContent()
  expect(erinDependents.includes('ui-consumer@1.0.0') && !erinDependents.includes('ui-hidden'),
    `a user who may read only npm/main is not shown a dependent in npm/private (${erinDependents})`)
  await erin.page.context().close()
  await bob.page.goto(`${origin}/#/image?repository=team%2Fmulti&reference=1`)
  await bob.page.getByTestId('tags').waitFor()
  expect(!(await bob.page.getByRole('button', { name: /Delete tag/ }).count()), 'nor a tag to delete on an image page')
  await bob.page.goto(`${origin}/#/audit`)
  await bob.page.getByText('Signed in as bob').waitFor()
  expect(!(await bob.page.getByRole('heading', { name: 'Audit log' }).count()), 'going to the audit log by its address shows the overview instead')
  const forged = await bob.page.evaluate(async () => {
    const r = await fetch('/api/v1/tokens', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ description: 'forged', scopes: ['**:read'] }),
    })
    return r.status
  })
  expect(forged === 403, `a change sent with the session cookie but without its CSRF token is refused (${forged})`)
  const audit = await bob.page.evaluate(async () => (await fetch('/api/v1/audit')).status)
  expect(audit === 403, `the audit log's API refuses bob too (${audit})`)

  // --- carol: two-factor authentication turned on in the UI, then a
  // sign-in with a password and a code.
  const carol = await newPage(browser)
  await signIn(carol.page, origin, 'carol', users.carol)
  await carol.page.getByRole('link', { name: 'Two-factor' }).click()
  await carol.page.getByRole('button', { name: 'Enable two-factor authentication' }).click()
  const secret = (await carol.page.getByTestId('totp-secret').textContent()).trim()
  const confirmedAt = Date.now() / 1000
  await carol.page.getByLabel('Code').fill(totp(secret, confirmedAt))
  await carol.page.getByRole('button', { name: 'Turn on' }).click()
  const codes = (await carol.page.getByTestId('recovery-codes').textContent()).trim().split('\n')
  expect(codes.length === 10, 'turning it on shows ten recovery codes')
  await carol.page.getByTestId('totp-state').getByText('On;').waitFor()
  await carol.page.screenshot({ path: join(SCREENS, 'two-factor.png') })
  await axe(carol.page, 'the two-factor page')
  await carol.page.getByRole('button', { name: 'Sign out' }).click()
  await carol.page.getByLabel('User').waitFor()
  // The confirming code's step is used up: the next one signs in.
  await signIn(carol.page, origin, 'carol', users.carol, () => totp(secret, confirmedAt + 30))
  expect(await carol.page.getByText('used at sign-in').isVisible(), 'carol signs in with her password and a one-time password')
  expect(carol.violations.length === 0 && bob.violations.length === 0, 'no Content-Security-Policy violation on any page')
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`)
  process.exit(1)
})
