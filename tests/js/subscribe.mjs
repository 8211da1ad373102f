// ethers 6 over WebSocket through veer: a newHeads subscription (provider.on("block"))
// and a logs subscription (provider.on(filter)). Prints one JSON line per event, so the
// test can kill the node the subscriptions are on while they run, and exits after
// `count` blocks or `seconds`. Usage: node subscribe.mjs WS_URL COUNT SECONDS
import { WebSocketProvider } from "ethers";

const [url, count, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const provider = new WebSocketProvider(url, undefined, { staticNetwork: true });
const print = (o) => console.log(JSON.stringify(o));
let blocks = 0;
const done = (reason) => {
  print({ event: "done", reason, blocks });
  provider.destroy();
  process.exit(0);
};
provider.websocket.addEventListener?.("close", (e) => print({ event: "close", code: e.code, reason: e.reason }));
await provider.on("block", (n) => {
  print({ event: "block", number: n });
  if (++blocks >= count) done("count");
});
await provider.on({ address: "0x0000000000000000000000000000000000000001" }, (log) => {
  print({ event: "log", block: log.blockNumber, hash: log.blockHash, index: log.index, removed: log.removed });
});
print({ event: "subscribed" });
setTimeout(() => done("timeout"), seconds * 1000);
