// Prior-authorization review workbench: the queue (#/) and one request per screen (#/claims/{id}).
// Plain DOM, no framework; every text goes in through textContent (no HTML injection).
'use strict';

(function () {
  const main = document.getElementById('main');
  const statusLine = document.getElementById('status');
  const nameInput = document.getElementById('reviewer-name');
  const roleSelect = document.getElementById('reviewer-role');
  // `open` (development: the reviewer names themself below) or `session` (signed in at the payer's
  // OpenID provider; the server knows who acts, and every action carries the session's CSRF token).
  let session = { mode: 'open' };

  const ROLE_NAMES = { 'physician-reviewer': 'Physician reviewer', 'medical-director': 'Medical Director', committee: 'P&T committee' };
  const STATUS_NAMES = { pended: 'Pended', 'information-requested': 'Information requested', approved: 'Approved', denied: 'Denied', cancelled: 'Cancelled' };

  nameInput.value = localStorage.getItem('reviewer.name') || '';
  roleSelect.value = localStorage.getItem('reviewer.role') || 'physician-reviewer';
  nameInput.addEventListener('change', () => localStorage.setItem('reviewer.name', nameInput.value.trim()));
  roleSelect.addEventListener('change', () => localStorage.setItem('reviewer.role', roleSelect.value));

  /** h('tag', {attr}, ...children): children are nodes or strings (as text). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'className') el.className = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  function when(iso) {
    const d = new Date(iso);
    return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function dueText(item) {
    const ms = new Date(item.dueAt).getTime() - Date.now();
    const hours = Math.round(Math.abs(ms) / 36e5);
    const span = hours >= 48 ? `${Math.round(hours / 24)} days` : `${hours} h`;
    return ms < 0 ? `${span} overdue` : `in ${span}`;
  }

  async function api(path, options) {
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    if (session.csrfToken && options && options.method && options.method !== 'GET') headers['X-CSRF-Token'] = session.csrfToken;
    const res = await fetch(path, { ...options, headers, credentials: 'same-origin' });
    // The session ended (idle or too old): sign in again, then come back here.
    if (res.status === 401 && session.mode === 'session') location.assign('/review/login');
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const issues = body && body.resourceType === 'OperationOutcome' ? body.issue.map((i) => i.diagnostics).filter(Boolean) : [];
      const error = new Error(issues.join(' ') || `The server answered ${res.status}.`);
      error.status = res.status;
      throw error;
    }
    return body;
  }

  /** The body's reviewer, in open mode only: signed in, the server takes it from the session. */
  function reviewerField() {
    return session.mode === 'open' ? { reviewer: { name: nameInput.value.trim(), role: roleSelect.value } } : {};
  }

  function say(text) {
    statusLine.textContent = text;
  }

  // ---- queue ----

  async function showQueue() {
    document.title = 'Review queue — PA review';
    say('Loading the queue…');
    const { items } = await api('/review/api/queue');
    const overdue = items.filter((i) => i.overdue).length;
    say(`${items.length} pended request${items.length === 1 ? '' : 's'}${overdue ? `, ${overdue} overdue` : ''}.`);
    const rows = items.map((item) =>
      h('tr', { className: item.overdue ? 'overdue' : '', 'data-claim': item.claimId },
        h('td', {},
          h('div', {}, item.overdue ? h('span', { className: 'badge overdue' }, 'Overdue') : null, ' ', dueText(item)),
          h('div', { className: 'muted' }, when(item.dueAt))),
        h('td', {}, h('a', { href: `#/claims/${encodeURIComponent(item.claimId)}` }, item.requestIdentifier || item.claimId),
          item.expedited ? h('div', {}, h('span', { className: 'badge expedited' }, 'Expedited')) : null),
        h('td', {}, item.policy ? `${item.policy.citationPrefix}` : 'No policy', h('div', { className: 'muted' }, [item.indication, item.phase].filter(Boolean).join(' · '))),
        h('td', {}, ROLE_NAMES[item.route] || item.route),
        h('td', {}, STATUS_NAMES[item.status] || item.status),
        h('td', { className: 'num' }, String(item.openCriteria)),
        h('td', {}, item.assignee || h('span', { className: 'muted' }, 'Unassigned')),
        h('td', {}, when(item.receivedAt))));
    main.replaceChildren(
      h('h1', {}, 'Pended requests'),
      h('p', { className: 'muted' }, 'Soonest due first. CMS-0057-F: 72 hours for expedited requests, 7 calendar days for standard ones, from receipt.'),
      items.length === 0
        ? h('p', {}, 'Nothing is waiting for review.')
        : h('table', { 'aria-label': 'Pended requests, soonest due first' },
            h('thead', {}, h('tr', {}, ...['Due', 'Request', 'Policy', 'Route', 'Status', 'Open criteria', 'Assignee', 'Received'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, rows)));
  }

  // ---- one request ----

  function evidenceLinks(refs, detail) {
    return h('span', { className: 'evidence' }, refs.map((ref) => {
      const key = ref.split('#')[0];
      const known = detail.resources[key];
      return known
        ? h('a', { href: `#evidence-${key.replace('/', '-')}`, onclick: (e) => { e.preventDefault(); showResource(key, detail); } }, ref)
        : h('span', {}, ref, ' ');
    }));
  }

  function showResource(key, detail) {
    const panel = document.getElementById('resource-panel');
    panel.replaceChildren(h('h2', { id: `evidence-${key.replace('/', '-')}`, tabindex: '-1' }, key), h('pre', { className: 'resource' }, JSON.stringify(detail.resources[key], null, 2)));
    panel.querySelector('h2').focus();
  }

  function criteriaTable(detail) {
    if (detail.criteria.length === 0) return h('p', {}, 'The policy lists no criteria for this request; see the reasons above.');
    const order = { unmet: 0, unknown: 1, met: 2, 'not-applicable': 3 };
    const rows = [...detail.criteria].sort((a, b) => order[a.status] - order[b.status]).map((c) =>
      h('tr', { 'data-status': c.status },
        h('td', {}, h('span', { className: `badge ${c.status}` }, c.status === 'unknown' ? 'not shown' : c.status)),
        h('td', {}, h('code', {}, c.citation)),
        h('td', {}, c.text, c.note ? h('div', { className: 'muted' }, c.note) : null),
        h('td', {}, c.evidence.length ? evidenceLinks(c.evidence, detail) : h('span', { className: 'muted' }, 'none'))));
    return h('table', { 'aria-label': 'Policy criteria' },
      h('thead', {}, h('tr', {}, ...['Status', 'Citation', 'Criterion', 'Evidence'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows));
  }

  function openCriteria(detail) {
    return detail.criteria.filter((c) => c.status === 'unmet' || c.status === 'unknown');
  }

  function criteriaChecks(detail, name) {
    return openCriteria(detail).map((c) =>
      h('label', { className: 'check' }, h('input', { type: 'checkbox', name, value: c.citation }), h('span', {}, `${c.citation} (${c.status === 'unknown' ? 'not shown' : 'unmet'})`)));
  }

  function actionsPanel(detail) {
    const final = !['pended', 'information-requested'].includes(detail.status);
    const message = h('div', { id: 'action-message', role: 'alert' });
    if (final) {
      return h('aside', { className: 'actions', 'aria-label': 'Decision' }, h('p', {}, `This request is ${STATUS_NAMES[detail.status].toLowerCase()}; it is not reviewed again.`), message);
    }
    const period = detail.defaultPeriod || { start: '', end: '' };
    const forms = {
      approve: h('form', { 'data-action': 'approve' },
        h('fieldset', {}, h('legend', {}, 'Approve'),
          h('label', { for: 'period-start' }, 'From'), h('input', { id: 'period-start', type: 'date', name: 'start', value: period.start }),
          h('label', { for: 'period-end' }, 'Through'), h('input', { id: 'period-end', type: 'date', name: 'end', value: period.end }),
          detail.approvalMonths ? h('p', { className: 'muted' }, `Policy approval duration: ${detail.approvalMonths} months.`) : h('p', { className: 'muted' }, 'The policy gives no duration: set the period.'),
          h('label', { for: 'approve-note' }, 'Note (optional)'), h('textarea', { id: 'approve-note', name: 'note' }),
          h('button', { type: 'submit', className: 'primary' }, 'Approve'))),
      deny: h('form', { 'data-action': 'deny' },
        h('fieldset', {}, h('legend', {}, 'Deny'),
          h('label', { for: 'deny-reason' }, 'Reason (sent to the provider)'), h('textarea', { id: 'deny-reason', name: 'reason' }),
          h('p', { className: 'muted' }, 'Criteria not met:'), criteriaChecks(detail, 'criteria'),
          h('button', { type: 'submit', className: 'danger' }, 'Deny'))),
      'request-info': h('form', { 'data-action': 'request-info' },
        h('fieldset', {}, h('legend', {}, 'Request more information'),
          h('p', { className: 'muted' }, 'Ask for documentation of:'), criteriaChecks(detail, 'criteria'),
          h('label', { for: 'info-note' }, 'Message to the provider'), h('textarea', { id: 'info-note', name: 'note' }),
          detail.questionnaire ? h('p', { className: 'muted' }, `The policy questionnaire is offered: ${detail.questionnaire}`) : null,
          h('button', { type: 'submit' }, 'Send request'))),
    };
    const holder = h('div', {});
    const tabs = Object.keys(forms).map((key) =>
      h('button', { type: 'button', 'aria-pressed': 'false', 'aria-controls': 'action-form', onclick: () => pick(key) },
        { approve: 'Approve', deny: 'Deny', 'request-info': 'Request info' }[key]));
    function pick(key) {
      tabs.forEach((t, i) => t.setAttribute('aria-pressed', String(Object.keys(forms)[i] === key)));
      holder.replaceChildren(forms[key]);
      message.replaceChildren();
    }
    for (const form of Object.values(forms)) {
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void submitDecision(detail, form, message);
      });
    }
    pick('approve');
    const assign = h('form', { className: 'assign', onsubmit: (e) => { e.preventDefault(); void submitAssign(detail, e.target, message); } },
      h('fieldset', {}, h('legend', {}, 'Assign'),
        h('label', { for: 'assignee' }, 'Reviewer'), h('input', { id: 'assignee', type: 'text', name: 'assignee', value: detail.assignee || '' }),
        h('button', { type: 'submit' }, 'Assign')));
    return h('aside', { className: 'actions', 'aria-label': 'Decision' },
      h('p', {}, 'Decided by: ', h('strong', {}, ROLE_NAMES[detail.route] || detail.route), ' or above.'),
      h('div', { className: 'tabs', role: 'group', 'aria-label': 'Action' }, tabs), h('div', { id: 'action-form' }, holder), message, assign);
  }

  async function submitDecision(detail, form, message) {
    const data = new FormData(form);
    const action = form.dataset.action;
    const body = { action, ...reviewerField() };
    const note = String(data.get('note') || '').trim();
    if (note) body.note = note;
    if (action === 'approve') {
      const start = String(data.get('start') || ''); const end = String(data.get('end') || '');
      if (start || end) body.period = { start, end };
    }
    if (action === 'deny') body.reason = String(data.get('reason') || '');
    if (action !== 'approve') body.criteria = data.getAll('criteria').map(String);
    message.replaceChildren();
    try {
      const bundle = await api(`/review/api/claims/${encodeURIComponent(detail.claimId)}/decision`, { method: 'POST', body: JSON.stringify(body) });
      const response = bundle.entry[0].resource;
      const number = response.preAuthRef ? ` Authorization ${response.preAuthRef}.` : '';
      await showClaim(detail.claimId);
      document.getElementById('action-message').replaceChildren(h('p', { className: 'done' }, `Saved: ${response.disposition}${number}`));
    } catch (error) {
      message.replaceChildren(h('p', { className: 'error' }, error.message));
    }
  }

  async function submitAssign(detail, form, message) {
    const assignee = String(new FormData(form).get('assignee') || '').trim() || null;
    try {
      await api(`/review/api/claims/${encodeURIComponent(detail.claimId)}/assignment`, { method: 'POST', body: JSON.stringify({ assignee, ...reviewerField() }) });
      await showClaim(detail.claimId);
      document.getElementById('action-message').replaceChildren(h('p', { className: 'done' }, assignee ? `Assigned to ${assignee}.` : 'Unassigned.'));
    } catch (error) {
      message.replaceChildren(h('p', { className: 'error' }, error.message));
    }
  }

  function fact(label, value) {
    return [h('dt', {}, label), h('dd', {}, value === null || value === undefined || value === '' ? '–' : value)];
  }

  async function showClaim(claimId) {
    say('Loading the request…');
    const d = await api(`/review/api/claims/${encodeURIComponent(claimId)}`);
    document.title = `${d.requestIdentifier || d.claimId} — PA review`;
    say(`${STATUS_NAMES[d.status] || d.status}; due ${when(d.dueAt)}${d.overdue ? ' (overdue)' : ''}.`);
    const reasons = d.reasons.map((r) => h('li', {}, r.citation ? h('code', {}, r.citation) : null, ' ', r.text));
    const qrs = d.questionnaireResponses.map((qr) =>
      h('details', {}, h('summary', {}, `QuestionnaireResponse ${qr.id || ''} (${qr.status})`),
        h('table', {}, h('tbody', {}, qr.answers.map((a) => h('tr', {}, h('th', { scope: 'row' }, a.text || a.linkId), h('td', {}, a.answer.join('; '))))))));
    const describe = (changes) => Object.entries(changes).map(([k, c]) => `${k}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`).join('; ');
    const actions = d.actions.map((a) => h('li', {}, h('strong', {}, a.action), ` by ${a.reviewer.name} (${ROLE_NAMES[a.reviewer.role] || a.reviewer.role}), ${when(a.createdAt)}`,
      a.reason ? h('div', {}, `Reason: ${a.reason}`) : null, a.note ? h('div', {}, `Note: ${a.note}`) : null,
      a.criteria.length ? h('div', {}, `Criteria: ${a.criteria.join(', ')}`) : null, h('div', { className: 'muted' }, describe(a.changes))));
    const history = d.history.map((v) => h('li', {}, `v${v.version} ${v.event}: ${v.outcome}`, v.actor ? ` — ${v.actor}` : '', ` (${when(v.createdAt)})`, v.note ? h('div', { className: 'muted' }, v.note) : null));
    main.replaceChildren(
      h('p', {}, h('a', { href: '#/' }, '← Queue')),
      h('h1', {}, `${d.policy ? d.policy.citationPrefix : 'No policy'} · ${d.drug || 'request'} · ${d.requestIdentifier || d.claimId}`,
        d.overdue ? [' ', h('span', { className: 'badge overdue' }, 'Overdue')] : null,
        d.expedited ? [' ', h('span', { className: 'badge expedited' }, 'Expedited')] : null),
      h('div', { className: 'layout' },
        h('section', { 'aria-label': 'Request' },
          h('dl', { className: 'facts' },
            fact('Status', STATUS_NAMES[d.status] || d.status),
            fact('Due', `${when(d.dueAt)} (${dueText(d)})`),
            fact('Received', when(d.receivedAt)),
            fact('Timeframe', d.expedited ? 'Expedited (72 hours)' : 'Standard (7 calendar days)'),
            fact('Route', ROLE_NAMES[d.route] || d.route),
            fact('Assignee', d.assignee),
            fact('Indication', d.indication),
            fact('Phase', d.phase),
            fact('Policy', d.policyUrl ? h('a', { href: d.policyUrl, target: '_blank', rel: 'noopener' }, d.policy.title) : null),
            fact('Quantity', d.quantityNote)),
          h('h2', {}, 'Criteria'), criteriaTable(d),
          h('h2', {}, 'Why it pended'), h('ul', {}, reasons),
          h('h2', {}, 'Requested'), h('ul', {}, d.items.map((i) => h('li', {}, `Item ${i.sequence}: ${i.product.join(', ')}`, i.diagnoses.length ? h('div', { className: 'muted' }, `Diagnoses: ${i.diagnoses.join(', ')}`) : null))),
          h('h2', {}, 'Supporting information'),
          d.supportingInfo.length ? h('ul', {}, d.supportingInfo.map((s) => h('li', {}, `${s.category}: `, d.resources[s.value] ? evidenceLinks([s.value], d) : s.value))) : h('p', { className: 'muted' }, 'None sent.'),
          qrs.length ? [h('h2', {}, 'Questionnaire answers'), qrs] : null,
          h('div', { id: 'resource-panel' }),
          h('h2', {}, 'Review actions'), actions.length ? h('ol', { 'aria-label': 'Review actions' }, actions) : h('p', { className: 'muted' }, 'None yet.'),
          h('h2', {}, 'Response versions'), h('ol', {}, history)),
        actionsPanel(d)));
    main.focus();
  }

  async function render() {
    const match = /^#\/claims\/(.+)$/.exec(location.hash);
    try {
      if (match) await showClaim(decodeURIComponent(match[1]));
      else await showQueue();
    } catch (error) {
      say('');
      main.replaceChildren(h('p', { className: 'error', role: 'alert' }, error.message));
    }
  }

  async function start() {
    try {
      session = await api('/review/api/session');
    } catch (error) {
      say('');
      main.replaceChildren(h('p', { className: 'error', role: 'alert' }, error.message));
      return;
    }
    if (session.mode === 'session') {
      document.getElementById('signed-in-as').textContent = `Signed in: ${session.reviewer.name} (${ROLE_NAMES[session.reviewer.role] || session.reviewer.role})`;
      document.getElementById('signed-in').hidden = false;
      document.getElementById('sign-out').addEventListener('click', () => {
        api('/review/logout', { method: 'POST' }).then((answer) => location.assign(answer.location), (error) => say(error.message));
      });
    } else {
      document.getElementById('reviewer').hidden = false;
    }
    window.addEventListener('hashchange', () => void render());
    await render();
  }

  void start();
})();
