import { generate } from "selfsigned";

/** A PEM private key and the certificate that goes with it. */
export interface LoopbackCertificate {
  key: string;
  cert: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Generates a self-signed certificate for localhost / 127.0.0.1, for the loopback stand-ins. */
export async function createLoopbackCertificate(): Promise<LoopbackCertificate> {
  // Valid from yesterday: a client whose clock is a little behind must not see "not yet valid".
  const notBeforeDate = new Date(Date.now() - DAY_MS);
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 30 * DAY_MS),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
