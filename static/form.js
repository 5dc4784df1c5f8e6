/* enquiry-relay hosted form: progressive enhancement only. Without this file
   the form posts normally (303 to thank-you, or 422 with messages). With it:
   JSON submit, inline errors, one submission per click-storm, a clear message
   when the network fails (nothing typed is lost), a fresh time token `_t`
   when the page has been open long (so a form left open overnight is not
   held as stale), and in embed mode the page height is posted to the parent
   frame. ES5 on purpose: old phones. */
(function () {
  'use strict';
  var doc = document;
  var root = doc.documentElement;
  root.className += ' js';

  // Embed mode: tell the parent how tall we are, whenever that changes.
  if (root.hasAttribute('data-embed') && window.parent !== window) {
    var last = 0;
    var postHeight = function () {
      var h = Math.ceil(root.getBoundingClientRect().height);
      if (h === last) { return; }
      last = h;
      // The height is not private, and the parent's origin is not known here.
      window.parent.postMessage({ type: 'enquiry-relay:height', height: h }, '*');
    };
    window.addEventListener('load', postHeight);
    window.addEventListener('resize', postHeight);
    if (window.ResizeObserver) { new ResizeObserver(postHeight).observe(root); }
    doc.addEventListener('DOMContentLoaded', postHeight);
  }

  doc.addEventListener('DOMContentLoaded', function () {
    var summary = doc.getElementById('error-summary');
    if (summary) { summary.focus(); }
    var form = doc.querySelector('form[data-enquiry-form]');
    if (form && window.fetch && window.FormData && window.JSON) { enhance(form); }
  });

  function enhance(form) {
    var button = form.querySelector('button[type=submit]');
    var status = doc.getElementById('form-status');
    var sending = false;
    var token = timeToken(form);

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (sending) { return; }
      sending = true;
      button.disabled = true;
      say('Sending your enquiry…', false);
      token.fresh(send);
    });

    function send() {
      var data = {};
      var pairs = new FormData(form);
      pairs.forEach(function (value, name) {
        if (!(name in data)) { data[name] = value; }
      });
      fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/json',
          'Accept': 'application/json',
          'Idempotency-Key': data._k || ''
        },
        body: JSON.stringify(data)
      }).then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        }, function () {
          return { status: response.status, body: {} };
        });
      }).then(function (answer) {
        if (answer.status === 201) {
          say('Sent. Taking you to the confirmation page…', false);
          window.location.assign(form.getAttribute('data-thanks'));
          return;
        }
        done();
        if (answer.status === 422 && answer.body.fields) {
          say('', false);
          showErrors(answer.body.fields);
          return;
        }
        say(answer.body.message ||
          'Your enquiry could not be sent just now. Please try again in a minute, or telephone the home.', true);
      }, function () {
        done();
        say('We could not reach the server, so your enquiry has not been sent yet. ' +
          'Check your internet connection and press the button again: everything you typed is still here.', true);
      });
    }

    function done() {
      sending = false;
      button.disabled = false;
    }

    function say(text, problem) {
      status.textContent = text;
      status.className = problem ? 'form-status problem' : 'form-status';
      if (problem) { status.setAttribute('tabindex', '-1'); status.focus(); }
    }

    function showErrors(fields) {
      clearErrors();
      var summary = doc.createElement('div');
      summary.className = 'error-summary';
      summary.id = 'error-summary';
      summary.setAttribute('role', 'alert');
      summary.setAttribute('tabindex', '-1');
      var heading = doc.createElement('h2');
      heading.textContent = 'There is a problem';
      summary.appendChild(heading);
      var list = doc.createElement('ul');
      var wrappers = form.querySelectorAll('[data-field]');
      var listed = {};
      // Page order, like the server-rendered summary.
      for (var i = 0; i < wrappers.length; i++) {
        var name = wrappers[i].getAttribute('data-field');
        var messages = fields[name] || (name === 'first_name' ? fields.name : null);
        if (!messages || !messages.length) { continue; }
        markField(wrappers[i], name, messages[0]);
        // "Email or phone" is reported on both fields; the summary says it once.
        if (listed[messages[0]]) { continue; }
        listed[messages[0]] = true;
        var item = doc.createElement('li');
        var link = doc.createElement('a');
        link.href = '#' + name;
        link.textContent = messages[0];
        item.appendChild(link);
        list.appendChild(item);
      }
      if (!list.childNodes.length) {
        var other = doc.createElement('li');
        other.textContent = 'Some answers need correcting. Check the form and send it again.';
        list.appendChild(other);
      }
      summary.appendChild(list);
      form.parentNode.insertBefore(summary, form);
      doc.title = 'Error: ' + doc.title.replace(/^Error: /, '');
      summary.focus();
    }

    function markField(wrapper, name, message) {
      var input = doc.getElementById(name);
      var error = doc.createElement('p');
      error.className = 'field-error';
      error.id = name + '-error';
      var hidden = doc.createElement('span');
      hidden.className = 'visually-hidden';
      hidden.textContent = 'Error: ';
      error.appendChild(hidden);
      error.appendChild(doc.createTextNode(message));
      wrapper.classList.add('has-error');
      if (input) {
        var label = wrapper.querySelector('label[for="' + name + '"]');
        var hint = doc.getElementById(name + '-hint');
        var before = name === 'consent' ? input : (hint ? hint.nextSibling : (label ? label.nextSibling : input));
        wrapper.insertBefore(error, before);
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', (hint ? hint.id + ' ' : '') + error.id);
      }
    }

    function clearErrors() {
      var old = doc.getElementById('error-summary');
      if (old) { old.parentNode.removeChild(old); }
      var errors = form.querySelectorAll('.field-error');
      for (var i = 0; i < errors.length; i++) { errors[i].parentNode.removeChild(errors[i]); }
      var marked = form.querySelectorAll('.has-error');
      for (var j = 0; j < marked.length; j++) { marked[j].classList.remove('has-error'); }
      var invalid = form.querySelectorAll('[aria-invalid]');
      for (var k = 0; k < invalid.length; k++) {
        invalid[k].removeAttribute('aria-invalid');
        var hint = doc.getElementById(invalid[k].id + '-hint');
        if (hint) { invalid[k].setAttribute('aria-describedby', hint.id); } else { invalid[k].removeAttribute('aria-describedby'); }
      }
    }
  }

  /* The time token `_t` is "<issued unix seconds>.<signature>". One older
     than the server's max_token_age holds the enquiry for a person, so a
     page left open long fetches a new one: when the tab is shown again,
     now and then while open, and before sending. A new token younger than
     min_fill_time would be held as too fast, so a send waits out the rest.
     Ages are measured on the server's clock (the page says what it was),
     since the browser's may be wrong. */
  function timeToken(form) {
    var input = form.querySelector('input[name=_t]');
    var url = form.getAttribute('data-token-url');
    var refreshAfter = Number(form.getAttribute('data-token-refresh')) || 0;
    var minFill = Number(form.getAttribute('data-token-min-fill')) || 0;
    var serverNow = Number(form.getAttribute('data-token-now')) || 0;
    var offset = Date.now() / 1000 - serverNow;
    var renewed = false;
    var fetching = null;

    function issued() {
      var head = String(input && input.value || '').split('.')[0];
      return /^[0-9]+$/.test(head) ? Number(head) : 0;
    }
    function age() { return Date.now() / 1000 - offset - issued(); }
    var on = !!(input && url && refreshAfter && serverNow);

    // `done(true)` once a new token is in the form, `done(false)` if none came.
    function renew(done) {
      if (fetching) { fetching.push(done); return; }
      fetching = [done];
      var finish = function (ok) {
        var waiting = fetching;
        fetching = null;
        for (var i = 0; i < waiting.length; i++) { waiting[i](ok); }
      };
      fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' }, cache: 'no-store' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body || typeof body.token !== 'string') { finish(false); return; }
          input.value = body.token;
          // The new token was issued just now on the server's clock.
          offset = Date.now() / 1000 - issued();
          renewed = true;
          finish(true);
        }, function () { finish(false); });
    }

    function renewIfOld() {
      if (on && age() >= refreshAfter) { renew(function () {}); }
    }
    if (on) {
      doc.addEventListener('visibilitychange', function () {
        if (doc.visibilityState === 'visible') { renewIfOld(); }
      });
      window.setInterval(renewIfOld, 10 * 60 * 1000);
    }

    return {
      // Call `then` once the form carries a token that will be neither
      // stale nor too fast; with the old one if no new one can be had (held
      // for a person is better than not sent).
      fresh: function (then) {
        var wait = function () {
          var left = renewed ? (minFill - age()) * 1000 : 0;
          if (left > 0) { window.setTimeout(then, left + 250); } else { then(); }
        };
        if (!on || age() < refreshAfter) { wait(); return; }
        renew(wait);
      }
    };
  }
})();
