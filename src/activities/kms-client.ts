import { CloudTrailClient, type CloudTrailClientConfig } from '@aws-sdk/client-cloudtrail';
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * A KMS client for the activities. Credentials come from the SDK's default chain and the endpoint from
 * `AWS_ENDPOINT_URL_KMS` (the SDK reads both itself). The SDK's own retries are off (`maxAttempts: 1`):
 * `callKms` retries instead, so that every attempt waits for a slot under the account-wide quota.
 */
export function createKmsClient(config: KMSClientConfig = {}): KMSClient {
  // As many sockets as the worker lets requests be in flight (KMS_MAX_IN_FLIGHT): none waits in the agent.
  const sockets = { keepAlive: true, maxSockets: 128 };
  return new KMSClient({
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(sockets),
      httpsAgent: new Agent(sockets),
      requestTimeout: 30_000,
      connectionTimeout: 5_000,
    }),
    ...config,
  });
}

/**
 * A CloudTrail client for the usage-evidence activities, built like {@link createKmsClient}: the endpoint
 * from `AWS_ENDPOINT_URL_CLOUDTRAIL` (read by the SDK), no SDK retries (`maxAttempts: 1`), so every
 * LookupEvents attempt waits for a slot under CloudTrail's 2/s account-wide quota.
 */
export function createCloudTrailClient(config: CloudTrailClientConfig = {}): CloudTrailClient {
  return new CloudTrailClient({
    maxAttempts: 1,
    // LookupEvents is paced at 2/s: a few sockets are plenty.
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 8 }),
      httpsAgent: new Agent({ keepAlive: true, maxSockets: 8 }),
      requestTimeout: 30_000,
      connectionTimeout: 5_000,
    }),
    ...config,
  });
}
