/** SIP dialog layer (RFC 3261 §12). */
export { Dialog, dialogKey, dialogKeyOfRequest, uriAddress, type DialogState, type InDialogRequestOptions } from "./dialog.ts";
