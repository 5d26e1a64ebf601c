/**
 * Which addresses may send requests inside a dialog (the agent's SIP_DIALOG_PEER_ONLY; UserAgentOptions
 * `dialogPeerOnly`). RFC 3261 names a dialog by Call-ID and tags alone (§12), so anyone who learns them
 * can send a BYE or a re-INVITE that moves the media; this narrows the senders to the hops the dialog
 * itself names:
 *
 * - the base: where the inbound INVITE came from, or the address an outbound INVITE went to;
 * - with a route set: its first entry, the proxy nearest to us. §12.2.1.1: "the UAC uses the route
 *   set" — the peer's requests reach us through the route set, the last hop being the nearest proxy,
 *   which recorded itself first in our route set (§12.1.1 UAS: "The route set MUST be set to the list
 *   of URIs in the Record-Route header field from the request"; §12.1.2 UAC: in reverse order);
 * - without one: the remote target (the peer's Contact, §12.1.1), which sends directly.
 *
 * When one of these is a host name (it may resolve to several servers) the senders are unknown and
 * nothing is refused: undefined.
 */
import { isIP } from "node:net";
import type { Dialog } from "../dialog/index.ts";
import { parseNameAddr } from "../message/index.ts";

/**
 * The IP addresses allowed to send in-dialog requests, or undefined when they cannot be known (a host
 * name among them, or no base).
 * @param base the INVITE's source (inbound) or destination (outbound) host.
 * @param dialog the confirmed or early dialog, when there is one (route set and remote target).
 */
export function dialogPeerHosts(base: string | undefined, dialog: Dialog | undefined): readonly string[] | undefined {
  if (base === undefined || !isIP(base)) return undefined;
  if (!dialog) return [base];
  let next: string;
  try {
    next = dialog.routeSet.length > 0 ? parseNameAddr(dialog.routeSet[0]!).uri.host : dialog.remoteTarget.host;
  } catch {
    return undefined; // the route set was parsed when the dialog was made; a failure here means unknown
  }
  const host = next.startsWith("[") ? next.slice(1, -1) : next;
  if (!isIP(host)) return undefined;
  return host === base ? [base] : [base, host];
}
