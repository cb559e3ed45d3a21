// Sign in (登录) and out. Anonymous visitors keep everything the map offers them; a planner also
// gets the editing tools (editor.js), a cadre the claims (claims.js).

import { api, ApiError, currentSession, ROLE_NAMES, signIn, signOut } from './api.js';
import { $ } from './ui.js';

export function initAccount() {
  $('signin-open').addEventListener('click', () => {
    $('signin-form').hidden = false;
    $('account-anonymous').hidden = true;
    $('signin-name').focus();
  });
  $('signin-cancel').addEventListener('click', () => {
    $('signin-form').hidden = true;
    $('account-anonymous').hidden = false;
  });
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = $('signin-error');
    error.hidden = true;
    $('signin-submit').disabled = true;
    try {
      await signIn($('signin-name').value.trim(), $('signin-password').value);
      $('signin-password').value = '';
    } catch (err) {
      const refused = { 401: '名称或密码错误。', 429: '连续登录失败次数过多，请一分钟后再试。' };
      error.textContent = (err instanceof ApiError && refused[err.status]) || `登录失败：${err.message}`;
      error.hidden = false;
    } finally {
      $('signin-submit').disabled = false;
    }
  });
  $('signout').addEventListener('click', () => signOut());
  window.addEventListener('wangge:session', render);
  render();
  // A kept session is checked once: the token may have been revoked meanwhile (a 401 ends it).
  if (currentSession()) api('/api/v1/me').catch(() => {});
}

function render() {
  const session = currentSession();
  $('account-user').hidden = !session;
  $('account-anonymous').hidden = Boolean(session) || !$('signin-form').hidden;
  if (session) {
    $('signin-form').hidden = true;
    $('account-name').textContent = session.user.display_name || session.user.name;
    $('account-role').textContent = ROLE_NAMES[session.user.role] ?? session.user.role;
  }
}
