/**
 * AWS KMS default request quotas, requests per second per account and Region (each operation counted
 * separately; adjustable through Service Quotas). The worker paces under them and the emulator enforces
 * them: one table, so the two can never disagree. CreateAlias is not in AWS's published table; 5 assumed.
 */
export const KMS_DEFAULT_QUOTAS = {
  ListKeys: 500,
  DescribeKey: 2000,
  ListAliases: 500,
  ScheduleKeyDeletion: 15,
  CancelKeyDeletion: 5,
  EnableKey: 5,
  DisableKey: 5,
  DeleteAlias: 15,
  CreateAlias: 5,
  DescribeCustomKeyStores: 5,
  ConnectCustomKeyStore: 5,
  DisconnectCustomKeyStore: 5,
  DeleteCustomKeyStore: 5,
  CreateCustomKeyStore: 5,
  UpdateCustomKeyStore: 5,
  CreateKey: 5,
  GetKeyLastUsage: 5,
} as const;

export type QuotaOperation = keyof typeof KMS_DEFAULT_QUOTAS;

/**
 * AWS CloudTrail's request quotas, requests per second per account and Region: not KMS's, and not
 * adjustable. The worker reads KMS's CloudTrail events with LookupEvents under the same pacer; the
 * emulator enforces its own copy of this figure.
 */
export const CLOUDTRAIL_DEFAULT_QUOTAS = {
  LookupEvents: 2,
} as const;

export type CloudTrailQuotaOperation = keyof typeof CLOUDTRAIL_DEFAULT_QUOTAS;
