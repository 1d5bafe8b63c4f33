// cairn's web UI: a person signs in (password, and a one-time password when
// enrolled) and sees what the admin API shows them. Every action goes
// through the same API and the same access checks as every other client;
// changes carry the session's CSRF token. Nothing a user may not do is
// offered: administrators' pages are shown to administrators only.
import { html, render } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import './style.css'

let csrf = null

async function api(path, { method = 'GET', body } = {}) {
  const headers = {}
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET' && csrf) headers['X-Cairn-CSRF'] = csrf
  const resp = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await resp.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { data = { error: text } }
  return { ok: resp.ok, status: resp.status, data }
}

const when = (secs) => (secs ? new Date(secs * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—')
const bytes = (n) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = Number(n || 0)
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`
}
const errorOf = (r) => (r.data && (r.data.error || r.data.message)) || `HTTP ${r.status}`

function useRoute() {
  const [route, setRoute] = useState(location.hash.slice(1) || '/')
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(1) || '/')
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

function SignIn({ onSignedIn }) {
  const [user, setUser] = useState('')
  const [password, setPassword] = useState('')
  const [otp, setOtp] = useState('')
  const [needOtp, setNeedOtp] = useState(false)
  const [error, setError] = useState(new URLSearchParams(location.search).get('sso_error') || '')
  const [busy, setBusy] = useState(false)
  const [sso, setSso] = useState(null)
  useEffect(() => {
    api('/session/methods').then((r) => { if (r.ok && r.data.oidc) setSso(r.data.oidc) })
  }, [])
  const submit = async (e) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    const body = { user, password }
    if (needOtp) body.otp = otp
    const r = await api('/session', { method: 'POST', body })
    setBusy(false)
    if (r.ok) {
      csrf = r.data.csrf_token
      onSignedIn()
    } else if (r.data && r.data.otp_required && !needOtp) {
      setNeedOtp(true)
    } else {
      setError(errorOf(r))
    }
  }
  return html`
    <main class="signin">
      <h1>cairn</h1>
      <form onSubmit=${submit} aria-label="Sign in">
        <label>User <input name="user" autocomplete="username" value=${user} onInput=${(e) => setUser(e.target.value)} required /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} required /></label>
        ${needOtp && html`
          <label>One-time password <input name="otp" inputmode="numeric" autocomplete="one-time-code" value=${otp} onInput=${(e) => setOtp(e.target.value)} required /></label>
          <p class="hint">The code from your authenticator app, or a recovery code.</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
      ${sso && html`
        <p class="or">or</p>
        <a class="button sso" href=${`${sso.url}?${new URLSearchParams({ return_to: location.pathname + location.hash })}`}>Sign in with ${sso.name}</a>`}
    </main>`
}

function Overview({ me }) {
  return html`
    <section>
      <h2>Signed in as ${me.user}</h2>
      <dl class="facts">
        <dt>Administrator</dt><dd>${me.admin ? 'yes' : 'no'}</dd>
        <dt>Second factor</dt><dd>${me.two_factor === 'verified' ? 'used at sign-in' : me.two_factor === 'none' ? 'not enrolled' : me.two_factor}</dd>
      </dl>
      <h3>Point your clients at this registry</h3>
      <pre class="copy">npm config set registry ${location.origin}/npm/main/
pip install --index-url ${location.origin}/pypi/main/simple/ PACKAGE
crane pull ${location.host}/team/app:1 app.tar
cairn login --url ${location.origin} --user ${me.user}</pre>
    </section>`
}

function Tokens({ me }) {
  const [tokens, setTokens] = useState(null)
  const [error, setError] = useState('')
  const [created, setCreated] = useState(null)
  const [description, setDescription] = useState('')
  const [scope, setScope] = useState('**:read')
  const load = async () => {
    const r = await api('/tokens')
    if (r.ok) setTokens(r.data.tokens)
    else setError(errorOf(r))
  }
  useEffect(() => { load() }, [])
  const create = async (e) => {
    e.preventDefault()
    const r = await api('/tokens', { method: 'POST', body: { description, scopes: scope.split(/\s+/).filter(Boolean) } })
    if (r.ok) { setCreated(r.data.token); setDescription(''); load() } else setError(errorOf(r))
  }
  const revoke = async (t) => {
    if (!confirm(`Revoke the token "${t.description || t.id}"? Clients using it stop working.`)) return
    const r = await api(`/tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' })
    if (r.ok) load()
    else setError(errorOf(r))
  }
  const live = (tokens || []).filter((t) => !t.revoked_at)
  return html`
    <section>
      <h2>API tokens of ${me.user}</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${created && html`<div class="notice" role="status"><p>New token (shown only this once):</p><pre class="copy" data-testid="new-token">${created}</pre></div>`}
      <table>
        <thead><tr><th>Description</th><th>Scopes</th><th>Created</th><th>Expires</th><th>Kind</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${live.map((t) => html`
            <tr key=${t.id}>
              <td>${t.description || t.id}</td>
              <td><code>${t.scopes.join(' ')}</code></td>
              <td>${when(t.created_at)}</td>
              <td>${when(t.expires_at)}</td>
              <td>${t.session ? 'sign-in' : 'automation'}</td>
              <td><button class="danger" onClick=${() => revoke(t)} aria-label=${`Revoke ${t.description || t.id}`}>Revoke</button></td>
            </tr>`)}
        </tbody>
      </table>
      <form class="inline" onSubmit=${create} aria-label="Create a token">
        <label>Description <input name="description" value=${description} onInput=${(e) => setDescription(e.target.value)} required /></label>
        <label>Scopes <input name="scopes" value=${scope} onInput=${(e) => setScope(e.target.value)} required /></label>
        <button type="submit">Create token</button>
      </form>
    </section>`
}

function TwoFactor({ me }) {
  const [status, setStatus] = useState(null)
  const [enrolment, setEnrolment] = useState(null)
  const [code, setCode] = useState('')
  const [codes, setCodes] = useState(null)
  const [error, setError] = useState('')
  const path = `/users/${encodeURIComponent(me.user)}/totp`
  const load = async () => {
    const r = await api(path)
    if (r.ok) setStatus(r.data)
    else setError(errorOf(r))
  }
  useEffect(() => { load() }, [])
  const start = async () => {
    const r = await api(path, { method: 'POST' })
    if (r.ok) setEnrolment(r.data)
    else setError(errorOf(r))
  }
  const confirmCode = async (e) => {
    e.preventDefault()
    const r = await api(`${path}/confirm`, { method: 'POST', body: { code } })
    if (r.ok) { setCodes(r.data.recovery_codes); setEnrolment(null); setCode(''); load() } else setError(errorOf(r))
  }
  return html`
    <section>
      <h2>Two-factor authentication</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${status && html`<p data-testid="totp-state">${status.enabled ? `On; ${status.recovery_codes_left} recovery codes left.` : 'Off.'}</p>`}
      ${codes && html`<div class="notice" role="status"><p>Recovery codes (each works once; shown only this once):</p><pre class="copy" data-testid="recovery-codes">${codes.join('\n')}</pre></div>`}
      ${status && !status.enabled && !enrolment && html`<button onClick=${start}>Enable two-factor authentication</button>`}
      ${enrolment && html`
        <div class="notice">
          <p>Add this secret to your authenticator app, then enter the code it shows.</p>
          <pre class="copy" data-testid="totp-secret">${enrolment.secret}</pre>
          <pre class="copy small">${enrolment.otpauth_url}</pre>
          <form class="inline" onSubmit=${confirmCode} aria-label="Confirm two-factor authentication">
            <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" value=${code} onInput=${(e) => setCode(e.target.value)} required /></label>
            <button type="submit">Turn on</button>
          </form>
        </div>`}
    </section>`
}

function Audit() {
  const [filter, setFilter] = useState({ actor: '', action: '', repository: '', artifact: '' })
  const [entries, setEntries] = useState(null)
  const [error, setError] = useState('')
  const load = async (e) => {
    if (e) e.preventDefault()
    const q = new URLSearchParams({ limit: '200' })
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v)
    const r = await api(`/audit?${q}`)
    if (r.ok) setEntries(r.data.entries)
    else setError(errorOf(r))
  }
  useEffect(() => { load() }, [])
  const field = (name, label) => html`<label>${label} <input name=${name} value=${filter[name]} onInput=${(e) => setFilter({ ...filter, [name]: e.target.value })} /></label>`
  return html`
    <section>
      <h2>Audit log</h2>
      <form class="inline" onSubmit=${load} aria-label="Filter the audit log">
        ${field('actor', 'Actor')} ${field('action', 'Action')} ${field('repository', 'Repository')} ${field('artifact', 'Artifact')}
        <button type="submit">Filter</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <table>
        <thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Repository</th><th>Artifact</th><th>Outcome</th></tr></thead>
        <tbody>
          ${(entries || []).map((e) => html`
            <tr key=${e.id}><td>${when(e.at)}</td><td>${e.actor}</td><td><code>${e.action}</code></td><td>${e.repository || ''}</td><td class="wrap">${e.artifact || ''}</td><td>${e.outcome}</td></tr>`)}
        </tbody>
      </table>
    </section>`
}

// What a retention action deletes, in words.
const retentionAction = (a) => {
  switch (a.action) {
    case 'delete_tag': return html`tag <code>${a.tag}</code> <span class="hint">(${short(a.digest)})</span>`
    case 'delete_manifest': return html`manifest <code>${short(a.digest)}</code>`
    case 'delete_version': return html`${a.package} <code>${a.version}</code>`
    case 'delete_files': return html`${a.package} <code>${a.version}</code>: ${a.files.length} file${a.files.length === 1 ? '' : 's'}`
    default: return a.action
  }
}

// The retention policies' preview: what they would delete now, and why
// (the same plan a run carries out). Nothing is deleted from here.
function RetentionPreview() {
  const [plans, setPlans] = useState(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const run = async () => {
    setBusy(true); setError('')
    const r = await api('/retention')
    setBusy(false)
    if (r.ok) setPlans(r.data.plans)
    else setError(errorOf(r))
  }
  const count = (plans || []).reduce((n, p) => n + p.actions.length, 0)
  return html`
    <h3>Retention</h3>
    <p class="hint">What the retention policies would delete if they ran now, and why.</p>
    <button onClick=${run} disabled=${busy}>Preview retention</button>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${plans && html`
      <p data-testid="retention-summary">${count ? `${count} deletion${count === 1 ? '' : 's'} in ${plans.length} repositor${plans.length === 1 ? 'y' : 'ies'}` : 'Nothing to delete.'}</p>
      ${plans.map((p) => html`
        <details key=${p.repository} open>
          <summary><strong>${p.repository}</strong> <span class="hint">policy ${p.policy}, ${p.actions.length} deletion${p.actions.length === 1 ? '' : 's'}</span></summary>
          <ul>${p.actions.map((a, i) => html`<li key=${i}>${retentionAction(a)} — <span class="hint">${a.why}</span></li>`)}</ul>
        </details>`)}`}`
}

function Storage() {
  const [rows, setRows] = useState(null)
  const [total, setTotal] = useState(null)
  const [quotas, setQuotas] = useState([])
  const [error, setError] = useState('')
  useEffect(() => {
    (async () => {
      const [t, n, q] = await Promise.all([api('/storage'), api('/storage?by=namespace'), api('/quotas')])
      if (t.ok) setTotal(t.data)
      if (q.ok) setQuotas(q.data.quotas)
      if (n.ok) setRows(n.data.namespaces)
      else setError(errorOf(n))
    })()
  }, [])
  const max = Math.max(1, ...(rows || []).map((r) => r.logical))
  return html`
    <section>
      <h2>Storage</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${total && html`<p>Everything: ${bytes(total.usage.logical)} logical, ${bytes(total.usage.unique)} stored; ${bytes(total.pending.bytes)} waiting for the garbage collector; ${total.uploads.open} uploads open.</p>`}
      <table>
        <thead><tr><th>Namespace</th><th>Logical</th><th>Unique</th><th>Exclusive</th><th>Blobs</th><th><span class="sr-only">Chart</span></th></tr></thead>
        <tbody>
          ${(rows || []).map((r) => html`
            <tr key=${r.scope}>
              <td>${r.scope}</td><td>${bytes(r.logical)}</td><td>${bytes(r.unique)}</td><td>${bytes(r.exclusive)}</td><td>${r.blobs}</td>
              <td><svg class="bar" viewBox="0 0 100 10" role="img" aria-label=${`${r.scope}: ${bytes(r.logical)}`}><rect width=${(100 * r.logical) / max} height="10" /></svg></td>
            </tr>`)}
        </tbody>
      </table>
      <h3>Quotas</h3>
      ${quotas.length
        ? html`<table data-testid="quotas">
            <thead><tr><th>Scope</th><th>Unique bytes</th><th>Limit</th><th>Used</th></tr></thead>
            <tbody>${quotas.map((q) => html`
              <tr key=${q.scope}><td>${q.scope}</td><td>${bytes(q.unique)}</td><td>${bytes(q.max_unique_bytes)}</td>
                <td><meter min="0" max=${q.max_unique_bytes} value=${q.unique} aria-label=${`${q.scope}: ${bytes(q.unique)} of ${bytes(q.max_unique_bytes)}`}></meter> ${Math.round((100 * q.unique) / Math.max(1, q.max_unique_bytes))}%</td></tr>`)}
            </tbody>
          </table>`
        : html`<p class="hint">No quotas set (<code>cairn quota set</code>).</p>`}
      <${RetentionPreview} />
    </section>`
}

// The command that installs or pulls what a hit names, for its own client.
// The first client's command for a hit, a package or an image.
function installCommand(h) {
  const first = clientCommands(h)[0]
  return first ? first[1] : ''
}

// The same thing for every client of the format: [client, command].
function clientCommands(h) {
  const origin = location.origin
  const host = location.host
  const v = h.versions && h.versions[h.versions.length - 1]
  const at = (sep) => (v ? `${sep}${v}` : '')
  switch (h.format) {
    case 'npm': return [
      ['npm', `npm install ${h.name}${at('@')} --registry ${origin}/npm/${h.repository}/`],
      ['pnpm', `pnpm add ${h.name}${at('@')} --registry ${origin}/npm/${h.repository}/`],
      ['yarn', `YARN_NPM_REGISTRY_SERVER=${origin}/npm/${h.repository}/ yarn add ${h.name}${at('@')}`],
    ]
    case 'pypi': return [
      ['pip', `pip install --index-url ${origin}/pypi/${h.repository}/simple/ '${h.name}${at('==')}'`],
      ['uv', `uv pip install --index-url ${origin}/pypi/${h.repository}/simple/ '${h.name}${at('==')}'`],
      ['uv add', `uv add --index ${origin}/pypi/${h.repository}/simple/ '${h.name}${at('==')}'`],
    ]
    case 'cargo': return [
      ['cargo', `cargo add ${h.name}${at('@')} --registry ${h.repository}`],
      ['.cargo/config.toml', `[registries.${h.repository}]\nindex = "sparse+${origin}/cargo/${h.repository}/index/"`],
    ]
    case 'go': return [
      ['go', `GOPROXY=${origin}/go/${h.repository} go get ${h.name}${at('@')}`],
      ['go (no checksum database)', `GOPROXY=${origin}/go/${h.repository} GONOSUMDB=${h.name} go get ${h.name}${at('@')}`],
    ]
    case 'maven': {
      const [g, a] = (h.name || '').split(':')
      return [
        ['mvn', `mvn dependency:get -Dartifact=${h.name}${at(':')} -DremoteRepositories=${origin}/maven/${h.repository}/`],
        ['pom.xml', `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId>${v ? `<version>${v}</version>` : ''}</dependency>`],
        ['Gradle', `implementation("${h.name}${at(':')}")   // repositories { maven { url = uri("${origin}/maven/${h.repository}/") } }`],
      ]
    }
    case 'oci': {
      const ref = h.digest ? `${host}/${h.repository}@${h.digest}` : `${host}/${h.repository}`
      return h.digest ? [
        ['crane', `crane pull ${ref} image.tar`],
        ['docker', `docker pull ${ref}`],
        ['skopeo', `skopeo copy docker://${ref} oci:image`],
        ['oras', `oras manifest fetch ${ref}`],
      ] : [['crane', `crane ls ${ref}`]]
    }
    default: return []
  }
}

// What an SBOM document lists: SPDX 2.x packages or CycloneDX components
// (nested ones too), each as name, version and purl.
function componentsOf(doc) {
  if (Array.isArray(doc.packages)) {
    return doc.packages.map((p) => ({
      name: p.name,
      version: p.versionInfo,
      purl: ((p.externalRefs || []).find((r) => r.referenceType === 'purl') || {}).referenceLocator,
    }))
  }
  const out = []
  const walk = (list) => (list || []).forEach((c) => { out.push({ name: c.name, version: c.version, purl: c.purl }); walk(c.components) })
  walk(doc.components)
  return out
}

// An SBOM's components, read from its document when unfolded.
function SbomComponents({ href }) {
  const [list, setList] = useState(null)
  const [error, setError] = useState('')
  const load = async (e) => {
    if (!e.target.open || list) return
    const r = await fetch(href, { credentials: 'same-origin' })
    if (!r.ok) { setError(`HTTP ${r.status}`); return }
    try { setList(componentsOf(await r.json())) } catch { setError('not a JSON document') }
  }
  const shown = (list || []).slice(0, 200)
  return html`
    <details onToggle=${load}>
      <summary>components</summary>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${list && html`<ul data-testid="sbom-components">${shown.map((c, i) => html`<li key=${i}>${c.name} ${c.version || ''} ${c.purl ? html`<code class="hint">${c.purl}</code>` : ''}</li>`)}</ul>
        ${list.length > shown.length ? html`<p class="hint">and ${list.length - shown.length} more (download the document)</p>` : ''}`}
    </details>`
}

// The other clients' commands, folded under the first.
function OtherClients({ h }) {
  const rest = clientCommands(h).slice(1)
  if (!rest.length) return ''
  return html`
    <details class="clients">
      <summary>Other clients</summary>
      ${rest.map(([client, cmd]) => html`<div key=${client}><span class="hint">${client}</span><pre class="copy small">${cmd}</pre></div>`)}
    </details>`
}

const imageHref = (repository, reference) =>
  `#/image?${new URLSearchParams({ repository, reference })}`
const short = (digest) => (digest || '').replace(/^sha256:/, '').slice(0, 12)
const platformOf = (p) => p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '—'

// Vulnerability findings: the advisory, its severity and summary, and what
// it was found in (the package itself, or a component of its SBOM).
function Findings({ findings }) {
  if (!findings) return html`<p class="hint">Loading…</p>`
  if (!findings.length) return html`<p class="hint">no findings in the advisories cairn holds</p>`
  return html`<ul data-testid="findings">${findings.map((f, i) => html`
    <li key=${i}><strong>${f.advisory.id}</strong> <span class="badge warn">${f.advisory.severity || 'severity unknown'}</span>
      ${f.advisory.summary ? ` ${f.advisory.summary}` : ''}
      <span class="hint"> ${f.name} ${f.version}${f.sbom ? ' (a component in its SBOM)' : ''}</span></li>`)}</ul>`
}

// An image: what it is (an index's platforms, an image's config and
// layers), the tags naming it, who signed it (the signature policy's
// verdicts), its SBOMs and vulnerability findings, what refers to it.
function Image({ repository, reference }) {
  const [view, setView] = useState(null)
  const [extra, setExtra] = useState({})
  const [error, setError] = useState('')
  const [reloads, setReloads] = useState(0)
  const deleteTag = async (tag) => {
    if (!confirm(`Delete the tag ${tag} of ${repository}? The image stays, by digest and under its other tags.`)) return
    const r = await api(`/image/tags?${new URLSearchParams({ repository, tag })}`, { method: 'DELETE' })
    if (r.ok) setReloads(reloads + 1)
    else setError(errorOf(r))
  }
  useEffect(() => {
    setView(null); setExtra({}); setError('')
    api(`/image?${new URLSearchParams({ repository, reference })}`).then(async (r) => {
      if (!r.ok) { setError(errorOf(r)); return }
      setView(r.data)
      const subject = new URLSearchParams({ format: 'oci', repository, subject: r.data.digest })
      const [explain, sboms, findings] = await Promise.all([
        api(`/policy/explain?${new URLSearchParams({ repository, reference: r.data.digest })}`),
        api(`/sboms?${subject}`),
        api(`/findings?${subject}`),
      ])
      setExtra({
        explain: explain.ok ? explain.data : null,
        sboms: sboms.ok ? sboms.data.sboms : [],
        findings: findings.ok ? findings.data.findings : [],
      })
    })
  }, [repository, reference, reloads])
  if (error) return html`<section><p class="error" role="alert">${error}</p></section>`
  if (!view) return html`<section><p>Loading…</p></section>`
  const signers = [...new Set(view.signatures.map((v) => v.predicate_type ? `${v.signer} (${v.predicate_type})` : v.signer))]
  const isIndex = view.platforms.length > 0
  return html`
    <section>
      <h2><span class="badge">oci</span> ${view.repository} <span class="hint">@${short(view.digest)}</span></h2>
      <pre class="copy" aria-label="Pull command">crane pull ${location.host}/${view.repository}@${view.digest} image.tar</pre>
      <${OtherClients} h=${{ format: 'oci', repository: view.repository, digest: view.digest }} />
      <dl class="facts">
        <dt>Digest</dt><dd><code class="wrap">${view.digest}</code></dd>
        <dt>Tags</dt><dd data-testid="tags">${view.tags.length ? view.tags.map((t, i) => html`${i ? ', ' : ''}<span class="tag">${t}</span>${view.may.delete && html` <button class="link" aria-label=${`Delete tag ${t}`} onClick=${() => deleteTag(t)}>×</button>`}`) : '—'}</dd>
        <dt>Pushed</dt><dd data-testid="pushed">${when(view.pushed_at)}${view.pushed_by ? ` by ${view.pushed_by.user}` : ''}</dd>
        <dt>Last pulled</dt><dd data-testid="pulled">${view.pulled_at ? when(view.pulled_at) : 'never'} <span class="hint">(noted at most hourly)</span></dd>
        <dt>Media type</dt><dd>${view.media_type}</dd>
        <dt>Size</dt><dd>${bytes(view.size)}${view.layers.length ? ` manifest, ${bytes(view.layers_size)} in ${view.layers.length} layer${view.layers.length === 1 ? '' : 's'}` : ''}</dd>
        ${view.config && view.config.created && html`<dt>Built</dt><dd>${view.config.created}</dd>`}
        ${view.config && view.config.os && html`<dt>Platform</dt><dd>${platformOf(view.config)}</dd>`}
        <dt>Signed by</dt><dd data-testid="signers">${signers.length ? signers.join(', ') : 'nobody cairn trusts'}
          ${extra.explain && extra.explain.outcome && extra.explain.outcome !== 'none' && html` <span class="hint">(pull: ${extra.explain.outcome})</span>`}</dd>
      </dl>
      ${isIndex && html`
        <h3>Platforms</h3>
        <table data-testid="platforms">
          <thead><tr><th>Platform</th><th>Manifest</th><th>Size</th></tr></thead>
          <tbody>${view.platforms.map((p) => html`
            <tr key=${p.digest}><td>${platformOf(p.platform)}</td>
              <td><a href=${imageHref(view.repository, p.digest)}><code>${short(p.digest)}</code></a></td><td>${bytes(p.size)}</td></tr>`)}
          </tbody>
        </table>`}
      ${view.layers.length > 0 && html`
        <h3>Layers</h3>
        <table>
          <thead><tr><th>Digest</th><th>Media type</th><th>Size</th></tr></thead>
          <tbody>${view.layers.map((l) => html`<tr key=${l.digest}><td><code>${short(l.digest)}</code></td><td>${l.media_type}</td><td>${bytes(l.size)}</td></tr>`)}</tbody>
        </table>`}
      <h3>SBOMs</h3>
      ${(extra.sboms || []).length
        ? html`<ul data-testid="sboms">${extra.sboms.map((s) => html`
            <li key=${s.digest}>${s.sbom_format} ${s.spec_version}: ${s.components} components <span class="hint">(${s.source})</span>${' '}
              <a href=${`/api/v1/sboms/document?${new URLSearchParams({ format: 'oci', repository: view.repository, subject: view.digest, digest: s.digest })}`}>download</a>
              <${SbomComponents} href=${`/api/v1/sboms/document?${new URLSearchParams({ format: 'oci', repository: view.repository, subject: view.digest, digest: s.digest })}`} /></li>`)}</ul>`
        : html`<p class="hint">none recorded</p>`}
      <h3>Vulnerabilities</h3>
      <${Findings} findings=${extra.findings} />
      <h3>Referrers</h3>
      ${view.referrers.length || view.cosign_tags.length
        ? html`<ul data-testid="referrers">
            ${view.referrers.map((r) => html`<li key=${r.digest}>${r.artifact_type || r.media_type} <a href=${imageHref(view.repository, r.digest)}><code>${short(r.digest)}</code></a> <span class="hint">${bytes(r.size)}</span></li>`)}
            ${view.cosign_tags.map((t) => html`<li key=${t}>cosign <code>${t.split('.').pop()}</code> <a href=${imageHref(view.repository, t)}>${t}</a></li>`)}
          </ul>`
        : html`<p class="hint">none</p>`}
    </section>`
}

// Every repository the person may read: hosted, proxy (with its upstream)
// and virtual (with its members), each linked to what can be asked of it.
function Repositories() {
  const [repos, setRepos] = useState(null)
  const [error, setError] = useState('')
  useEffect(() => {
    api('/repositories').then((r) => { if (r.ok) setRepos(r.data.repositories); else setError(errorOf(r)) })
  }, [])
  const href = (r) => r.kind === 'proxy'
    ? `#/proxy/${r.format}/${encodeURIComponent(r.name)}`
    : r.kind === 'virtual' ? `#/virtual/${r.format}/${encodeURIComponent(r.name)}`
      : `#/repository/${r.format}/${encodeURIComponent(r.name)}`
  return html`
    <section>
      <h2>Repositories</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <table data-testid="repositories">
        <thead><tr><th>Format</th><th>Name</th><th>Kind</th><th>What it is</th></tr></thead>
        <tbody>${(repos || []).map((r) => html`
          <tr key=${`${r.format}/${r.name}`}>
            <td><span class="badge">${r.format}</span></td>
            <td>${href(r) ? html`<a href=${href(r)}>${r.name}</a>` : r.name}</td>
            <td>${r.kind}</td>
            <td>${r.kind === 'proxy' ? html`caches <code>${r.upstream}</code>`
              : r.kind === 'virtual' ? html`one URL over ${r.members.join(', ')}${r.publish_to ? `; publishes to ${r.publish_to}` : ''}`
              : ''}</td>
          </tr>`)}
        </tbody>
      </table>
    </section>`
}

// A hosted repository: an image repository's tags (newest first, each to
// its image page), a package repository's packages (each to its page).
function HostedRepository({ format, repository }) {
  const [held, setHeld] = useState(null)
  const [error, setError] = useState('')
  const [prefix, setPrefix] = useState('')
  useEffect(() => {
    setError('')
    api(`/repository?${new URLSearchParams({ format, name: repository, prefix })}`).then((r) => {
      if (r.ok) setHeld(r.data)
      else setError(errorOf(r))
    })
  }, [format, repository, prefix])
  const copy = format === 'oci' ? `crane ls ${location.host}/${repository}` : installCommand({ format, repository, name: 'PACKAGE' })
  return html`
    <section>
      <h2><span class="badge">${format}</span> ${repository}</h2>
      <pre class="copy" aria-label="Command">${copy}</pre>
      <label>${format === 'oci' ? 'Tags starting with' : 'Packages starting with'} <input name="prefix" value=${prefix} onInput=${(e) => setPrefix(e.target.value)} /></label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${held && format === 'oci' && html`
        <p class="hint">${held.manifests} manifests</p>
        <table data-testid="repository-tags">
          <thead><tr><th>Tag</th><th>Digest</th><th>Set</th></tr></thead>
          <tbody>${held.tags.map((t) => html`
            <tr key=${t.tag}><td><a href=${imageHref(repository, t.tag)}>${t.tag}</a></td>
              <td><a href=${imageHref(repository, t.digest)}><code>${short(t.digest)}</code></a></td><td>${when(t.updated_at)}</td></tr>`)}
          </tbody>
        </table>`}
      ${held && format !== 'oci' && html`
        <ul data-testid="repository-packages">${held.packages.map((p) => html`
          <li key=${p}><a href=${packageHref(format, repository, p)}>${p}</a></li>`)}</ul>`}
      ${held && held.more && html`<p class="hint">more than shown: narrow it with the filter</p>`}
    </section>`
}

// A proxy repository: its upstream, whether the breaker is open, and what
// it holds (each entry with its status, size and when it was fetched and
// last checked).
function ProxyCache({ format, repository }) {
  const [cache, setCache] = useState(null)
  const [prefix, setPrefix] = useState('')
  const [error, setError] = useState('')
  const load = (p) => api(`/proxies/${format}/${encodeURIComponent(repository)}/cache?${new URLSearchParams({ prefix: p })}`).then((r) => {
    if (r.ok) setCache(r.data); else setError(errorOf(r))
  })
  useEffect(() => { setCache(null); setError(''); load('') }, [format, repository])
  if (error) return html`<section><p class="error" role="alert">${error}</p></section>`
  if (!cache) return html`<section><p>Loading…</p></section>`
  return html`
    <section>
      <h2><span class="badge">${format}</span> ${repository} <span class="hint">proxy</span></h2>
      <dl class="facts" data-testid="proxy-facts">
        <dt>Upstream</dt><dd><code>${cache.upstream}</code>${cache.circuit_open ? html` <span class="badge warn">unreachable: serving from cache</span>` : ''}</dd>
        <dt>Cached</dt><dd>${cache.cached_objects} objects, ${bytes(cache.cached_bytes)}</dd>
      </dl>
      <form class="inline" onSubmit=${(e) => { e.preventDefault(); load(prefix) }} aria-label="Filter the cache">
        <label>Key prefix <input name="prefix" value=${prefix} onInput=${(e) => setPrefix(e.target.value)} /></label>
        <button type="submit">Filter</button>
      </form>
      <table>
        <thead><tr><th>Key</th><th>Status</th><th>Size</th><th>Fetched</th><th>Checked</th></tr></thead>
        <tbody>${cache.entries.map((e) => html`
          <tr key=${e.key}><td><code class="wrap">${e.key}</code></td><td>${e.status}</td><td>${bytes(e.size)}</td><td>${e.fetched_at}</td><td>${e.checked_at}</td></tr>`)}
        </tbody>
      </table>
      ${cache.entries.length === 0 && html`<p class="hint">Nothing cached${prefix ? ' under this prefix' : ' yet'}.</p>`}
    </section>`
}

// A virtual repository: where a name (and version) would come from, member
// by member, and why a member is not asked or a version is held back
// (name ownership, cooldown, policy).
function VirtualResolve({ format, repository }) {
  const [pkg, setPkg] = useState('')
  const [version, setVersion] = useState('')
  const [answer, setAnswer] = useState(null)
  const [error, setError] = useState('')
  const ask = async (e) => {
    e.preventDefault()
    setError('')
    const q = { package: pkg }
    if (version) q.version = version
    const r = await api(`/virtuals/${format}/${encodeURIComponent(repository)}/resolve?${new URLSearchParams(q)}`)
    if (r.ok) setAnswer(r.data); else { setAnswer(null); setError(errorOf(r)) }
  }
  return html`
    <section>
      <h2><span class="badge">${format}</span> ${repository} <span class="hint">virtual</span></h2>
      <form class="inline" onSubmit=${ask} aria-label="Where would it come from">
        <label>Package <input name="package" value=${pkg} required onInput=${(e) => setPkg(e.target.value)} /></label>
        <label>Version <input name="version" value=${version} onInput=${(e) => setVersion(e.target.value)} /></label>
        <button type="submit">Where would it come from?</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${answer && html`
        <div data-testid="resolution">
          <p>${answer.version
            ? answer.refused ? html`<strong>${answer.package} ${answer.version}</strong> would be refused: ${answer.refused}`
              : answer.from ? html`<strong>${answer.package} ${answer.version}</strong> comes from <strong>${answer.from}</strong>`
              : html`<strong>${answer.package} ${answer.version}</strong> is in no member`
            : html`<strong>${answer.package}</strong>`}</p>
          ${answer.owned && html`<p class="hint">Owned here: ${answer.owned}${answer.exception ? `; exception: ${answer.exception}` : ''}</p>`}
          <table>
            <thead><tr><th>Member</th><th>Kind</th><th>Asked</th><th>Version</th><th>Why</th></tr></thead>
            <tbody>${answer.members.map((m) => html`
              <tr key=${m.member}><td>${m.member}</td><td>${m.kind}</td><td>${m.asked ? 'yes' : 'no'}</td>
                <td>${m.has_version === null || m.has_version === undefined ? '—' : m.has_version ? 'has it' : 'does not have it'}</td>
                <td>${[m.why, m.detail].filter(Boolean).join('; ')}</td></tr>`)}
            </tbody>
          </table>
        </div>`}
    </section>`
}

const packageHref = (format, repository, pkg, version) =>
  `#/package/${format}/${encodeURIComponent(repository)}/${encodeURIComponent(pkg)}${version ? `?${new URLSearchParams({ version })}` : ''}`

// What cairn's publish attestation of a file says (its DSSE payload, an
// in-toto statement), or null.
const statementOf = (bundle) => {
  try { return JSON.parse(atob(bundle.dsseEnvelope.payload)) } catch { return null }
}

// One version's provenance (cairn's publish attestations), SBOMs and
// vulnerability findings, read when the version is chosen.
function VersionDetail({ pkg, v }) {
  const [extra, setExtra] = useState(null)
  useEffect(() => {
    setExtra(null)
    const q = new URLSearchParams({ format: pkg.format, repository: pkg.repository, package: pkg.package, version: v.version })
    Promise.all([api(`/attestations?${q}`), api(`/sboms?${q}`), api(`/findings?${q}`)]).then(([att, sboms, findings]) => setExtra({
      attestations: att.ok ? att.data.attestations : [],
      sboms: sboms.ok ? sboms.data.sboms : [],
      findings: findings.ok ? findings.data.findings : [],
    }))
  }, [pkg.format, pkg.repository, pkg.package, v.version, v.state])
  if (!extra) return html`<p class="hint">Loading…</p>`
  return html`
    <h3>Provenance</h3>
    ${extra.attestations.length
      ? html`<ul data-testid="provenance">${extra.attestations.map((a) => {
          const p = (statementOf(a.bundle) || {}).predicate || {}
          const who = p.publisher || {}
          return html`<li key=${a.filename}><code>${a.filename}</code>: published by ${who.name || '?'}${who.credential ? ` with token ${who.credential}` : ''}${who.source ? ` from ${who.source}` : ''}${p.publishedAt ? ` at ${p.publishedAt}` : ''}
            <span class="hint">${' '}— attested by cairn, signed with the registry's key (<a href="/api/v1/attestations/keys">keys</a>)</span></li>`
        })}</ul>`
      : html`<p class="hint">no publish attestation recorded</p>`}
    <h3>SBOMs</h3>
    ${extra.sboms.length
      ? html`<ul data-testid="package-sboms">${extra.sboms.map((s) => html`
          <li key=${s.digest}>${s.sbom_format} ${s.spec_version}: ${s.components} components${' '}
            <a href=${`/api/v1/sboms/document?${new URLSearchParams({ format: pkg.format, repository: pkg.repository, package: pkg.package, version: v.version, digest: s.digest })}`}>download</a>
            <${SbomComponents} href=${`/api/v1/sboms/document?${new URLSearchParams({ format: pkg.format, repository: pkg.repository, package: pkg.package, version: v.version, digest: s.digest })}`} /></li>`)}</ul>`
      : html`<p class="hint">none attached</p>`}
    <h3>Vulnerabilities</h3>
    <${Findings} findings=${extra.findings} />`
}

// One version's lifecycle actions, each confirmed in place: yank (with a
// reason pip and uv show), deprecate (with the message clients print), and
// their undoing. Shown only when the server says the caller may.
function VersionActions({ pkg, v, onChanged }) {
  const [asking, setAsking] = useState(null)
  const [text, setText] = useState('')
  const [error, setError] = useState('')
  const change = async (action, extra = {}) => {
    setError('')
    const path = `/packages/${pkg.format}/${encodeURIComponent(pkg.repository)}/${encodeURIComponent(pkg.package)}/versions/${encodeURIComponent(v.version)}`
    const r = await api(path, { method: 'POST', body: { action, ...extra } })
    if (r.ok) { setAsking(null); setText(''); onChanged() } else setError(errorOf(r))
  }
  if (v.state === 'unpublished') return html`<span class="hint">—</span>`
  if (asking) {
    const label = asking === 'yank' ? 'Reason (shown by pip and uv)' : 'Message (shown by npm and other clients)'
    const submit = (e) => {
      e.preventDefault()
      change(asking, asking === 'yank' ? { reason: text || undefined } : { message: text })
    }
    return html`
      <form class="inline confirm" onSubmit=${submit} aria-label=${`${asking} ${v.version}`}>
        <label>${label} <input name="text" value=${text} required=${asking === 'deprecate'} onInput=${(e) => setText(e.target.value)} /></label>
        <button type="submit" class="danger">${asking === 'yank' ? 'Yank' : 'Deprecate'} ${v.version}</button>
        <button type="button" class="link" onClick=${() => setAsking(null)}>Cancel</button>
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </form>`
  }
  return html`
    <span class="actions">
      ${v.state === 'yanked'
        ? html`<button class="link" onClick=${() => confirm(`Unyank ${v.version}? Resolvers may choose it again.`) && change('unyank')}>Unyank</button>`
        : html`<button class="link" onClick=${() => setAsking('yank')}>Yank…</button>`}
      ${v.state === 'deprecated'
        ? html`<button class="link" onClick=${() => confirm(`Undeprecate ${v.version}?`) && change('undeprecate')}>Undeprecate</button>`
        : v.state === 'active' && html`<button class="link" onClick=${() => setAsking('deprecate')}>Deprecate…</button>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </span>`
}

function Package({ format, repository, name, version }) {
  const [pkg, setPkg] = useState(null)
  const [error, setError] = useState('')
  const load = () => api(`/packages/${format}/${encodeURIComponent(repository)}/${encodeURIComponent(name)}`).then((r) => {
    if (r.ok) setPkg(r.data)
    else setError(errorOf(r))
  })
  useEffect(() => { setPkg(null); setError(''); load() }, [format, repository, name])
  if (error) return html`<section><p class="error" role="alert">${error}</p></section>`
  if (!pkg) return html`<section><p>Loading…</p></section>`
  const live = pkg.versions.find((v) => v.version === version) ||
    pkg.versions.find((v) => v.state === 'active') || pkg.versions[0]
  const tags = Object.entries(pkg.tags || {})
  return html`
    <section>
      <h2><span class="badge">${pkg.format}</span> ${pkg.name} <span class="hint">in ${pkg.repository}</span></h2>
      ${live && html`<pre class="copy" aria-label="Install command">${installCommand({ format: pkg.format, repository: pkg.repository, name: pkg.name, versions: [live.version] })}</pre>
        <${OtherClients} h=${{ format: pkg.format, repository: pkg.repository, name: pkg.name, versions: [live.version] }} />`}
      ${tags.length ? html`<p class="hint">dist-tags: ${tags.map(([t, v]) => `${t} → ${v}`).join(', ')}</p>` : ''}
      <table>
        <caption class="sr-only">Versions of ${pkg.name}</caption>
        <thead><tr><th>Version</th><th>State</th><th>Published</th><th>By</th><th>Files</th>${pkg.may.yank && html`<th>Change</th>`}</tr></thead>
        <tbody>
          ${pkg.versions.map((v) => html`
            <tr key=${v.version} data-testid="version" data-version=${v.version}>
              <td><a href=${packageHref(pkg.format, pkg.repository, pkg.package, v.version)} aria-current=${live && v.version === live.version ? 'true' : undefined}><strong>${v.version}</strong></a></td>
              <td><span class=${`badge ${v.state === 'active' ? '' : 'warn'}`} data-testid="state">${v.state}</span>
                ${v.message && html`<div class="hint">${v.message}</div>`}</td>
              <td>${when(v.published_at)}</td>
              <td>${v.publisher ? html`${v.publisher.user}${v.publisher.credential ? html` <span class="hint">(token ${v.publisher.credential})</span>` : ''}` : '—'}</td>
              <td>${v.files.map((f) => html`<div><code>${f.filename}</code> <span class="hint">${bytes(f.size)}</span><div class="hint"><code class="wrap">${f.digest}</code></div></div>`)}</td>
              ${pkg.may.yank && html`<td><${VersionActions} pkg=${pkg} v=${v} onChanged=${load} /></td>`}
            </tr>`)}
        </tbody>
      </table>
      <h3>Depended on by</h3>
      ${pkg.dependents.length
        ? html`<ul data-testid="dependents">${pkg.dependents.map((d) => html`
            <li key=${`${d.repository}/${d.package}@${d.version}`}><a href=${packageHref(pkg.format, d.repository, d.package, d.version)}>${d.package}@${d.version}</a> <span class="hint">in ${d.repository}</span></li>`)}</ul>
          <p class="hint">versions of other packages naming ${pkg.name} as a dependency, in the repositories you may read</p>`
        : html`<p class="hint">nothing you may read depends on ${pkg.name}</p>`}
      ${live && html`
        <h2>Version ${live.version}</h2>
        <${VersionDetail} pkg=${pkg} v=${live} />`}
    </section>`
}

// A command-line client's web sign-in (npm login, cairn login --web): what
// asks, from where and when; the person signed in here approves it, and the
// client gets a session as them.
function Approve({ id, me }) {
  const [login, setLogin] = useState(null)
  const [error, setError] = useState('')
  const [done, setDone] = useState(false)
  const path = `/session/web/${encodeURIComponent(id)}`
  useEffect(() => {
    api(path).then((r) => (r.ok ? setLogin(r.data) : setError(errorOf(r))))
  }, [id])
  const approve = async () => {
    setError('')
    const r = await api(`${path}/approve`, { method: 'POST' })
    if (r.ok) setDone(true)
    else setError(errorOf(r))
  }
  if (!login) return html`<section>${error ? html`<p class="error" role="alert">${error}</p>` : html`<p>Loading…</p>`}</section>`
  const client = login.client === 'npm' ? 'npm' : 'the cairn command line'
  return html`
    <section>
      <h2>Sign in ${client} as ${me.user}?</h2>
      <dl class="facts">
        <dt>Asked from</dt><dd>${login.source || 'unknown'}</dd>
        <dt>Asked at</dt><dd>${when(login.created_at)}</dd>
        <dt>Waits until</dt><dd>${when(login.expires_at)}</dd>
      </dl>
      <p>Approve only if you started this sign-in yourself just now: ${client} gets a session with everything ${me.user} may do, until it expires or you revoke it on the Tokens page.</p>
      ${done
        ? html`<p role="status" data-testid="approved">Approved: go back to your terminal.</p>`
        : login.status === 'pending'
          ? html`<p class="actions"><button onClick=${approve}>Approve sign-in</button> <a href="#/">Cancel</a></p>`
          : html`<p class="hint" data-testid="approved">This sign-in is ${login.status}.</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>`
}

function Search({ query }) {
  const [result, setResult] = useState(null)
  const [error, setError] = useState('')
  useEffect(() => {
    if (!query) return
    setResult(null)
    setError('')
    api(`/search?${new URLSearchParams({ q: query })}`).then((r) => {
      if (r.ok) setResult(r.data)
      else setError(errorOf(r))
    })
  }, [query])
  return html`
    <section>
      <h2>Search: ${query}</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${result && html`<p class="hint" data-testid="search-summary">${result.hits.length} found by ${result.matched} in ${result.took_ms.toFixed(1)} ms</p>`}
      <ul class="hits">
        ${(result ? result.hits : []).map((h) => html`
          <li key=${`${h.kind}:${h.format}:${h.repository}:${h.package}:${h.digest}:${h.versions}`} data-testid="hit">
            <div><span class="badge">${h.format}</span> <strong>${h.package
              ? html`<a href=${packageHref(h.format, h.repository, h.package)}>${h.name}</a>`
              : (h.name || h.repository)}</strong>
              ${h.name && html` <span class="hint">in ${h.repository}</span>`}
              ${h.state && h.state !== 'active' && html` <span class="badge warn">${h.state}</span>`}</div>
            ${h.digest && html`<div><a href=${imageHref(h.repository, h.digest)}><code class="wrap">${h.digest}</code></a> ${h.tags && h.tags.length ? html`<span class="hint">tags: ${h.tags.join(', ')}</span>` : ''}</div>`}
            ${h.versions && h.versions.length ? html`<div class="hint">${h.kind === 'version' ? 'version' : 'versions'}: ${h.versions.join(', ')}</div>` : ''}
            <div class="hint">${h.kind === 'version' ? 'published' : h.kind === 'manifest' ? 'pushed' : h.kind === 'repository' ? 'created' : 'changed'} ${when(h.at)}</div>
            <pre class="copy small">${installCommand(h)}</pre>
          </li>`)}
      </ul>
    </section>`
}

function SearchBox() {
  const [text, setText] = useState('')
  const submit = (e) => {
    e.preventDefault()
    if (text.trim()) location.hash = `/search?${new URLSearchParams({ q: text.trim() })}`
  }
  return html`
    <form class="search" role="search" onSubmit=${submit}>
      <label class="sr-only" for="search">Search</label>
      <input id="search" name="q" type="search" placeholder="name, digest prefix, pkg:npm/x@1.0, key=value" value=${text} onInput=${(e) => setText(e.target.value)} />
    </form>`
}

function App() {
  const [me, setMe] = useState(undefined)
  const route = useRoute()
  const whoami = async () => {
    const r = await api('/session')
    if (r.ok) { csrf = r.data.csrf_token; setMe(r.data) } else setMe(null)
  }
  useEffect(() => { whoami() }, [])
  if (me === undefined) return html`<main><p>Loading…</p></main>`
  if (me === null) return html`<${SignIn} onSignedIn=${whoami} />`
  const signOut = async () => {
    await api('/session', { method: 'DELETE' })
    csrf = null
    setMe(null)
    location.hash = '/'
  }
  const pages = [
    ['/', 'Overview', Overview, true],
    ['/repositories', 'Repositories', Repositories, true],
    ['/tokens', 'Tokens', Tokens, true],
    ['/two-factor', 'Two-factor', TwoFactor, true],
    ['/audit', 'Audit log', Audit, me.admin],
    ['/storage', 'Storage', Storage, me.admin],
  ].filter((p) => p[3])
  const [path, queryString] = route.split('?')
  const query = new URLSearchParams(queryString || '').get('q') || ''
  const packageRoute = path.match(/^\/package\/([^/]+)\/([^/]+)\/([^/]+)$/)
  const repoRoute = path.match(/^\/(proxy|virtual|repository)\/([^/]+)\/([^/]+)$/)
  const approveRoute = path.match(/^\/approve\/([^/]+)$/)
  const params = new URLSearchParams(queryString || '')
  const page = approveRoute
    ? ['/approve', 'Approve a sign-in', () => html`<${Approve} id=${decodeURIComponent(approveRoute[1])} me=${me} />`, true]
    : path === '/search'
    ? ['/search', 'Search', () => html`<${Search} query=${query} />`, true]
    : path === '/image'
      ? ['/image', 'Image', () => html`<${Image} repository=${params.get('repository') || ''} reference=${params.get('reference') || ''} />`, true]
    : repoRoute
      ? ['/repositories', 'Repositories', () => repoRoute[1] === 'proxy'
        ? html`<${ProxyCache} format=${repoRoute[2]} repository=${decodeURIComponent(repoRoute[3])} />`
        : repoRoute[1] === 'virtual'
          ? html`<${VirtualResolve} format=${repoRoute[2]} repository=${decodeURIComponent(repoRoute[3])} />`
          : html`<${HostedRepository} format=${repoRoute[2]} repository=${decodeURIComponent(repoRoute[3])} />`, true]
    : packageRoute
      ? ['/package', 'Package', () => html`<${Package} format=${packageRoute[1]} repository=${decodeURIComponent(packageRoute[2])} name=${decodeURIComponent(packageRoute[3])} version=${params.get('version') || ''} />`, true]
      : pages.find((p) => p[0] === path) || pages[0]
  const Page = page[2]
  return html`
    <header>
      <span class="brand">cairn</span>
      <nav aria-label="Main">
        ${pages.map(([path, label]) => html`<a href=${`#${path}`} aria-current=${path === page[0] ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <${SearchBox} />
      <span class="who">${me.user} <button class="link" onClick=${signOut}>Sign out</button></span>
    </header>
    <main><${Page} me=${me} /></main>`
}

render(html`<${App} />`, document.getElementById('app'))
