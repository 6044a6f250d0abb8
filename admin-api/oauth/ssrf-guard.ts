// Client ID Metadata Documents make the authorization server fetch a URL the client chose: the
// classic SSRF. Before any connection, the host must be a public address: https only, no
// credentials in the URL, and every address the name resolves to outside loopback, private,
// link-local (cloud metadata at 169.254.169.254), CGNAT, multicast and documentation ranges.
// oidc-provider checks the connected socket's address again (a name that resolves differently at
// connect time, DNS rebinding, is cut there) and bounds the fetch (2.5 s, 5 KiB, no redirects).
import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

const NOT_PUBLIC = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]
] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv6')

/** True for an address a server-side fetch must never reach. */
export function isNonPublicAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 0) return true
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
    if (mapped !== null) return NOT_PUBLIC.check(mapped[1] as string, 'ipv4')
    return NOT_PUBLIC.check(address, 'ipv6')
  }
  return NOT_PUBLIC.check(address, 'ipv4')
}

export type Resolve = (host: string) => Promise<string[]>

const resolveAll: Resolve = async host => (await lookup(host, { all: true, verbatim: true })).map(a => a.address)

/**
 * Whether a client_id URL may be fetched: https, no userinfo, and a host that is (or resolves
 * only to) public addresses. A name that does not resolve is refused too.
 */
export async function mayFetchClientMetadata (clientId: string, resolve: Resolve = resolveAll): Promise<boolean> {
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    return false
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return false
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) return !isNonPublicAddress(host)
  if (host === 'localhost' || host.endsWith('.localhost')) return false
  let addresses: string[]
  try {
    addresses = await resolve(host)
  } catch {
    return false
  }
  return addresses.length > 0 && addresses.every(a => !isNonPublicAddress(a))
}
