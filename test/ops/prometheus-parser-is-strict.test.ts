// The /metrics tests lean on test/helpers/prometheus.ts; this proves it refuses what Prometheus
// (or the format's rules) would refuse, so "it parsed" means something.
import t from 'tap'
import { parsePrometheusText } from '../helpers/prometheus.ts'

const ok = [
  '# HELP a_total A counter.',
  '# TYPE a_total counter',
  'a_total{x="1",y="q\\"uote\\\\ and\\nnewline"} 3',
  'a_total{x="2"} 0',
  '',
  '# HELP h A histogram.',
  '# TYPE h histogram',
  'h_bucket{le="0.1"} 1',
  'h_bucket{le="1"} 2',
  'h_bucket{le="+Inf"} 2',
  'h_sum 0.6',
  'h_count 2',
  '# HELP g A gauge.',
  '# TYPE g gauge',
  'g Nan',
  ''
].join('\n')

t.test('a valid exposition parses', async t => {
  const m = parsePrometheusText(ok)
  t.equal(m.value('a_total', { x: '1', y: 'q"uote\\ and\nnewline' }), 3, 'escapes decoded')
  t.equal(m.sum('a_total'), 3)
  t.equal(m.value('h_count'), 2)
  t.ok(Number.isNaN(m.value('g')), 'NaN in any case, as Prometheus reads it')
})

t.test('broken expositions are refused', async t => {
  const broken: Array<[string, string]> = [
    ['sample before its TYPE', 'x 1\n'],
    ['no trailing newline', '# TYPE x gauge\nx 1'],
    ['bad value', '# TYPE x gauge\nx one\n'],
    ['negative counter', '# TYPE x_total counter\nx_total -1\n'],
    ['duplicate series', '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'],
    ['unquoted label value', '# TYPE x gauge\nx{a=1} 1\n'],
    ['bad escape', '# TYPE x gauge\nx{a="\\t"} 1\n'],
    ['bad label name', '# TYPE x gauge\nx{1a="v"} 1\n'],
    ['unknown type', '# TYPE x thing\nx 1\n'],
    ['family split in two', '# TYPE x gauge\nx{a="1"} 1\n# TYPE y gauge\ny 1\n# HELP x again\n'],
    ['buckets not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['+Inf differs from _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'],
    ['sample outside its block', '# TYPE x gauge\n# TYPE y gauge\nx 1\n']
  ]
  for (const [why, text] of broken) t.throws(() => parsePrometheusText(text), why)
})
