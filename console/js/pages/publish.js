// Publish a message (POST /api/v1/publish), checked by the server as an
// MQTT PUBLISH of the logged-in user.

import { api } from '../api.js';
import { h, statusLine } from '../dom.js';

export function render(el) {
  const topic = h('input', { id: 'publish-topic', class: 'mono', placeholder: 'plant/line1/speed' });
  const payload = h('textarea', { id: 'publish-payload', class: 'mono' });
  const encoding = h('select', { id: 'publish-encoding' },
    h('option', { value: 'utf8' }, 'UTF-8 text'), h('option', { value: 'base64' }, 'base64'));
  const qos = h('select', { id: 'publish-qos' }, [0, 1, 2].map((q) => h('option', { value: q }, `QoS ${q}`)));
  const retain = h('input', { id: 'publish-retain', type: 'checkbox' });
  const contentType = h('input', { id: 'publish-content-type', placeholder: 'application/json' });
  const userProps = h('textarea', { id: 'publish-user-properties', class: 'mono', placeholder: 'name=value, one a line' });
  const status = statusLine('publish-status');
  const form = h('form', { class: 'card', id: 'publish-form' },
    h('label', {}, 'Topic', topic),
    h('label', {}, 'Payload', payload),
    h('div', { class: 'row' }, h('label', {}, 'Encoding', encoding), h('label', {}, 'QoS', qos),
      h('label', {}, retain, ' retain')),
    h('label', {}, 'Content type (optional)', contentType),
    h('label', {}, 'User properties (optional)', userProps),
    h('button', { id: 'publish-send', type: 'submit' }, 'Publish'));
  el.append(h('h1', {}, 'Publish'), form, status);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      topic: topic.value.trim(),
      payload: payload.value,
      encoding: encoding.value,
      qos: Number(qos.value),
      retain: retain.checked,
    };
    if (contentType.value.trim()) body.content_type = contentType.value.trim();
    const props = [];
    for (const line of userProps.value.split('\n')) {
      if (!line.trim()) continue;
      const eq = line.indexOf('=');
      if (eq < 1) { status.fail(`Not name=value: ${line}`); return; }
      props.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
    }
    if (props.length) body.user_properties = props;
    try {
      await api.post('/publish', body);
      status.ok(`Published to ${body.topic}.`);
    } catch (e) {
      status.fail(`Publish failed: ${e.code}: ${e.message}`);
    }
  });
  return null;
}
