// Issue 22, item 7: upstream headers (servers[].headers) are checked character by character at
// load, after ${VAR} interpolation. A value with a control character (a token read from a file
// with its trailing newline) or a character HTTP cannot carry used to pass `config check`, and
// then undici refused every request to that server (502). Messages name the field and never
// echo the value (it is usually a credential).
import t from 'tap'
import { ConfigError, parseConfigText } from '../../config/load.ts'

function problems (text: string, env = {}): string[] {
  try {
    parseConfigText(text, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

const server = (headers: string) => `servers:\n  - id: a\n    url: http://127.0.0.1:9/mcp\n    headers: ${headers}\n`
const SECRET = 'tok-3f9a1c'

t.test('a control character in a value is refused, naming the field, without echoing the value', async t => {
  for (const [label, yaml] of [
    ['trailing newline', `{ Authorization: "Bearer ${SECRET}\\n" }`],
    ['carriage return inside', `{ Authorization: "Bearer ${SECRET}\\r\\nX-Injected: 1" }`],
    ['NUL', `{ Authorization: "Bearer ${SECRET}\\0" }`],
    ['DEL', `{ Authorization: "Bearer ${SECRET}\\x7f" }`],
    ['C1 control', `{ Authorization: "Bearer ${SECRET}\\x85" }`]
  ] as const) {
    const found = problems(server(yaml))
    t.match(found, [/^servers\[0\]\.headers\.Authorization: .*control character U\+00(0A|0D|00|7F|85)/], label)
    t.notMatch(found.join('\n'), SECRET, `${label}: the value is not echoed`)
  }
})

t.test('a value that gets its newline from ${VAR} interpolation is refused too', async t => {
  const found = problems(server('{ Authorization: "Bearer ${GH_TOKEN}" }'), { GH_TOKEN: `${SECRET}\n` })
  t.match(found, [/^servers\[0\]\.headers\.Authorization: .*control character U\+000A/])
  t.notMatch(found.join('\n'), SECRET)
})

t.test('a character outside Latin-1 cannot travel in a header value', async t => {
  t.match(problems(server('{ X-Price: "10 €" }')), [/^servers\[0\]\.headers\.X-Price: .*U\+20AC/])
})

t.test('a header name must be an RFC 9110 token; the message shows it escaped', async t => {
  t.match(problems(server('{ "X-A\\n": v }')), [/^servers\[0\]\.headers\["X-A\\u000a"\]: not a valid header name/])
  t.match(problems(server('{ "X A": v }')), [/^servers\[0\]\.headers\["X A"\]: not a valid header name/])
  t.match(problems(server('{ "": v }')), [/^servers\[0\]\.headers\[""\]: not a valid header name/])
})

t.test('visible characters, spaces, tabs and Latin-1 letters pass', async t => {
  const found = problems(server('{ Authorization: "Bearer a.b-c_d~e+f/g=", X-Note: "tab\\there, café", X-Empty: "" }'))
  t.same(found, [])
})
