// The ordergate console: reads /api/state, follows /api/events and sends
// the admin actions with the session's CSRF token. Served by the gateway
// itself; no other script, no request to anywhere else.
'use strict';

(function () {
  const byId = (id) => document.getElementById(id);
  let csrf = '';
  let admin = false;
  let events = null;
  let pendingAction = null;
  const ROWS_SHOWN = 12;

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text === undefined || text === null ? '' : String(text);
    if (className) td.className = className;
    return td;
  }

  function button(label, title, action, danger) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.title = title;
    b.dataset.action = label;
    if (danger) b.className = 'danger';
    b.disabled = !admin;
    b.addEventListener('click', () => ask(title, action));
    return b;
  }

  function fillBody(tableId, rows) {
    const body = byId(tableId).tBodies[0];
    body.replaceChildren(...rows);
  }

  function row(cells) {
    const tr = document.createElement('tr');
    tr.append(...cells);
    return tr;
  }

  function ask(text, action) {
    pendingAction = action;
    byId('confirm-text').textContent = text + '?';
    byId('confirm').returnValue = '';
    byId('confirm').showModal();
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body || {}),
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {}; }
    const result = byId('action-result');
    if (response.ok) {
      result.textContent = 'Done: ' + (answer.op || path) + (answer.count !== undefined ? ' (' + answer.count + ' cancels sent)' : '');
      result.className = 'good';
    } else {
      result.textContent = 'Refused (' + response.status + ' ' + (answer.error || '') + '): ' + (answer.message || '');
      result.className = 'error';
      if (response.status === 401) showLogin();
    }
    refresh();
  }

  function setState(scope, state) {
    return () => post('/api/trading-state', { scope: scope, state: state, cancel_orders: false });
  }

  function render(s) {
    csrf = s.csrf;
    admin = !!s.admin;
    byId('whoami').textContent = s.principal + (admin ? ' (admin)' : ' (read only)');

    fillBody('states', s.trading_states.map((t) => row([
      cell(t.scope),
      cell(t.state.toUpperCase(), 'state-' + t.state),
      (() => {
        const td = document.createElement('td');
        td.append(
          button('HALT', 'Halt ' + t.scope, setState(t.scope, 'halted'), true),
          button('REDUCE', 'Reduce only for ' + t.scope, setState(t.scope, 'reducing')),
          button('RESUME', 'Resume ' + t.scope, setState(t.scope, 'active')));
        return td;
      })(),
    ])));

    const accountRows = [];
    for (const a of s.accounts) {
      const actions = document.createElement('td');
      actions.append(button('CANCEL ALL', 'Cancel every open order of account ' + a.name,
        () => post('/api/cancel-all', { account: a.name }), true));
      const positions = a.positions.length ? a.positions : [null];
      positions.forEach((p, i) => {
        accountRows.push(row([
          cell(i === 0 ? a.name : ''), cell(i === 0 ? a.broker : ''),
          cell(i === 0 ? (a.ready ? 'yes' : 'no') : '', a.ready ? 'good' : 'bad'),
          cell(p ? p.symbol : '—'), cell(p ? p.position : '', 'num position'),
          cell(p ? p.working_buy : '', 'num'), cell(p ? p.working_sell : '', 'num'), cell(p ? p.open_orders : '', 'num'),
          i === 0 ? actions : cell(''),
        ]));
      });
    }
    fillBody('accounts', accountRows);

    const orders = s.open_orders.slice(0, ROWS_SHOWN).map((o) => row([
      cell(o.principal), cell(o.cl_ord_id), cell(o.account), cell(o.symbol), cell(o.side), cell(o.type),
      cell(o.qty, 'num'), cell(o.leaves_qty, 'num'), cell(o.price || '', 'num')]));
    if (s.open_orders_count > orders.length) {
      const more = cell('… and ' + (s.open_orders_count - orders.length) + ' more open orders', 'muted');
      more.colSpan = 9;
      orders.push(row([more]));
    }
    fillBody('orders', orders);

    fillBody('executions', s.executions.slice(0, ROWS_SHOWN).map((e) => row([
      cell(new Date(e.time_ms).toISOString().substring(11, 23)), cell(e.principal), cell(e.account), cell(e.symbol),
      cell(e.cl_ord_id), cell(e.side), cell(e.status), cell(e.last_qty, 'num'), cell(e.last_price, 'num'),
      cell(e.leaves_qty, 'num')])));

    fillBody('rejections', s.rejections.map((r) => row([cell(r.reason), cell(r.count, 'num')])));
    byId('accepted').textContent = 'Orders accepted: ' + s.orders_accepted;

    fillBody('brokers', s.brokers.map((b) => row([
      cell(b.name), cell(b.connected ? 'connected' : 'DISCONNECTED', b.connected ? 'good' : 'bad'),
      cell(b.accounts_ready ? 'yes' : 'no', b.accounts_ready ? 'good' : 'bad')])));
    const j = s.journal;
    byId('journal').textContent = j.state + (j.state === 'disabled' ? '' :
      ' — ' + j.records_written + ' records written, ' + j.records_dropped + ' dropped');
    byId('journal').className = j.state === 'unhealthy' ? 'bad' : j.state === 'healthy' ? 'good' : 'muted';
    byId('sessions').textContent = s.sessions + ' gateway sessions (' + s.console_sessions + ' console), ' +
      s.connections + ' socket connections';
    byId('cluster-panel').hidden = !s.cluster;
    if (s.cluster) {
      const c = s.cluster;
      byId('cluster').textContent = 'Member ' + c.name + ': ' + (c.connected ? 'connected' : 'CUT OFF from Redis') +
        ', shared state version ' + c.version + (c.floor === 'active' ? '' : ', floor ' + c.floor.toUpperCase());
      byId('cluster').className = c.connected && c.floor === 'active' ? 'good' : 'bad';
      fillBody('leases', c.leases.map((l) => row([cell(l.principal ? 'principal ' + l.principal : l.account),
        cell(l.count + '/' + l.period_ms + 'ms'),
        cell(l.tokens, 'num')])));
      fillBody('exposure-leases', c.exposure.map((e) => row([cell(e.account),
        cell(e.instrument ? e.limit + ' ' + e.instrument : e.limit), cell(e.used === undefined ? '—' : e.used, 'num'),
        cell(e.lease, 'num'), cell(e.total, 'num')])));
    }

    fillBody('principals', s.principals.map((p) => {
      const td = document.createElement('td');
      td.append(
        button('REVOKE', 'Revoke every session of ' + p.name, () => post('/api/principals/' + encodeURIComponent(p.name) + '/revoke')),
        p.enabled
          ? button('DISABLE', 'Disable principal ' + p.name, () => post('/api/principals/' + encodeURIComponent(p.name) + '/disable'), true)
          : button('ENABLE', 'Enable principal ' + p.name, () => post('/api/principals/' + encodeURIComponent(p.name) + '/enable')));
      return row([cell(p.name), cell(p.enabled ? 'yes' : 'DISABLED', p.enabled ? 'good' : 'bad'),
        cell(p.admin ? 'yes' : 'no'), cell(p.sessions, 'num'), td]);
    }));

    drawLatency('latency', s.latency, 'guard', 'no submit timed yet');
    byId('latency-now').textContent = 'Since start: p50 ' + formatNs(s.guard_p50_ns) + ', p99 ' + formatNs(s.guard_p99_ns) +
      ' (one submit in ' + s.latency_sample + ' timed per session)';
    drawLatency('broker-latency', s.latency, 'broker', 'no order answered by a network broker yet');
    byId('broker-latency-now').textContent = 'Since start: p50 ' + formatNs(s.broker_p50_ns) + ', p99 ' +
      formatNs(s.broker_p99_ns) + ' (from writing the order to the broker\'s answer; the paper broker is not timed)';
  }

  function formatNs(ns) {
    if (ns < 0) return 'no data';
    if (ns >= 1e6) return (ns / 1e6).toFixed(2) + ' ms';
    if (ns >= 1e3) return (ns / 1e3).toFixed(2) + ' µs';
    return Math.round(ns) + ' ns';
  }

  function drawLatency(id, points, series, empty) {
    const canvas = byId(id);
    const p50 = series + '_p50_ns';
    const p99 = series + '_p99_ns';
    const g = canvas.getContext('2d');
    const w = canvas.width;
    const h = canvas.height;
    const left = 60;
    const bottom = 20;
    g.clearRect(0, 0, w, h);
    g.font = '11px sans-serif';
    g.fillStyle = '#8b97a5';
    const valid = points.filter((p) => p[p99] >= 0);
    if (valid.length === 0) {
      g.fillText(empty, left + 10, h / 2);
      return;
    }
    const max = Math.max(...valid.map((p) => p[p99])) * 1.15;
    const t0 = points[0].time_ms;
    const t1 = Math.max(points[points.length - 1].time_ms, t0 + 1);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (w - left - 10);
    const y = (v) => h - bottom - (v / max) * (h - bottom - 10);
    g.strokeStyle = '#2a3541';
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      g.beginPath(); g.moveTo(left, y(v)); g.lineTo(w - 10, y(v)); g.stroke();
      g.fillText(formatNs(v), 2, y(v) + 4);
    }
    g.fillText(Math.round((t1 - t0) / 1000) + ' s', w - 40, h - 4);
    const line = (key, colour) => {
      g.strokeStyle = colour;
      g.lineWidth = 2;
      g.beginPath();
      let started = false;
      for (const p of points) {
        if (p[key] < 0) { started = false; continue; }
        if (started) g.lineTo(x(p.time_ms), y(p[key])); else g.moveTo(x(p.time_ms), y(p[key]));
        started = true;
      }
      g.stroke();
      g.lineWidth = 1;
    };
    line(p50, '#58a6ff');
    line(p99, '#f85149');
    g.fillStyle = '#58a6ff'; g.fillText('p50', left + 8, 12);
    g.fillStyle = '#f85149'; g.fillText('p99', left + 40, 12);
  }

  function showLogin() {
    if (events) { events.close(); events = null; }
    byId('console').hidden = true;
    byId('logout').hidden = true;
    byId('login-panel').hidden = false;
    byId('live').textContent = 'offline';
    byId('live').className = 'badge';
    byId('whoami').textContent = '';
  }

  function showConsole() {
    byId('login-panel').hidden = true;
    byId('console').hidden = false;
    byId('logout').hidden = false;
  }

  async function refresh() {
    const response = await fetch('/api/state', { credentials: 'same-origin' });
    if (response.status === 401) { showLogin(); return false; }
    if (!response.ok) return false;
    render(await response.json());
    showConsole();
    return true;
  }

  function follow() {
    if (events) events.close();
    events = new EventSource('/api/events');
    events.onopen = () => { byId('live').textContent = 'live'; byId('live').className = 'badge live'; };
    events.onmessage = (message) => { render(JSON.parse(message.data)); };
    events.addEventListener('end', () => { events.close(); events = null; refresh(); });
    events.onerror = () => {
      byId('live').textContent = 'reconnecting';
      byId('live').className = 'badge';
    };
  }

  async function start() {
    if (await refresh()) follow();
  }

  byId('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const field = byId('token');
    const response = await fetch('/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: field.value }).toString(),
    });
    field.value = '';
    if (!response.ok) {
      let answer = {};
      try { answer = await response.json(); } catch (e) { answer = {}; }
      byId('login-error').textContent = 'Refused: ' + (answer.message || response.status);
      return;
    }
    byId('login-error').textContent = '';
    start();
  });

  byId('logout').addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', credentials: 'same-origin' });
    showLogin();
  });

  byId('confirm').addEventListener('close', () => {
    const action = pendingAction;
    pendingAction = null;
    if (byId('confirm').returnValue === 'ok' && action) action();
  });

  start();
})();
