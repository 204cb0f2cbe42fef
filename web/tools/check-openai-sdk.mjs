// The official OpenAI Node SDK against the AiCockpit gateway.
// usage: node check_openai.mjs BASE_URL TOKEN MODEL
import OpenAI from 'openai';

const [base, token, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base, apiKey: token, maxRetries: 0 });

const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
if (!ids.includes(model)) throw new Error(`model missing: ${ids}`);
console.log('node models ok');

const r = await client.chat.completions.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'Say hi.' }] });
if (!r.choices[0].message.content) throw new Error(JSON.stringify(r));
console.log('node chat ok');

let text = '';
const stream = await client.chat.completions.create({ model, max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'Count.' }] });
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
if (!text) throw new Error('empty stream');
console.log('node stream ok');
