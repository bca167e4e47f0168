/**
 * Wire representations of records (the output shapes of reference §3.2 and §3.7).
 */
import type { ResolvedConfig } from './config';
import { epochSeconds, keyArn } from './context';
import { projectKeyState, type KeyRecord, type StoreRecord } from './state';

export interface KeyMetadataView {
  AWSAccountId: string;
  KeyId: string;
  Arn: string;
  CreationDate: number;
  Enabled: boolean;
  Description: string;
  KeyUsage: 'ENCRYPT_DECRYPT';
  KeyState: string;
  DeletionDate?: number;
  Origin: string;
  CustomKeyStoreId?: string;
  CloudHsmClusterId?: string;
  KeyManager: 'CUSTOMER';
  CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT';
  KeySpec: 'SYMMETRIC_DEFAULT';
  EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'];
  MultiRegion: false;
  XksKeyConfiguration?: { Id: string };
}

/** KeyMetadata; `store` is the owning store as the reader sees it (may be stale). */
export function keyMetadata(config: ResolvedConfig, key: KeyRecord, store: StoreRecord | undefined): KeyMetadataView {
  const state = projectKeyState(key, store);
  const view: KeyMetadataView = {
    AWSAccountId: config.account,
    KeyId: key.id,
    Arn: keyArn(config, key.id),
    CreationDate: epochSeconds(key.creationDate),
    Enabled: state === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: state,
    Origin: key.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
  if (key.deletion) view.DeletionDate = epochSeconds(key.deletion.deletionDate);
  if (key.customKeyStoreId !== undefined) view.CustomKeyStoreId = key.customKeyStoreId;
  if (key.origin === 'AWS_CLOUDHSM' && store?.cloudHsmClusterId) view.CloudHsmClusterId = store.cloudHsmClusterId;
  if (key.xksKeyId !== undefined) view.XksKeyConfiguration = { Id: key.xksKeyId };
  return view;
}

export interface StoreView {
  CustomKeyStoreId: string;
  CustomKeyStoreName: string;
  CustomKeyStoreType: string;
  ConnectionState: string;
  ConnectionErrorCode?: string;
  CreationDate: number;
  CloudHsmClusterId?: string;
  TrustAnchorCertificate?: string;
  XksProxyConfiguration?: {
    Connectivity: string;
    AccessKeyId: string;
    UriEndpoint: string;
    UriPath: string;
    VpcEndpointServiceName?: string;
    VpcEndpointServiceOwner?: string;
  };
}

/** CustomKeyStoresListEntry; secrets (password, raw secret key) are never returned. */
export function storeView(store: StoreRecord): StoreView {
  const view: StoreView = {
    CustomKeyStoreId: store.id,
    CustomKeyStoreName: store.name,
    CustomKeyStoreType: store.type,
    ConnectionState: store.connectionState,
    CreationDate: epochSeconds(store.creationDate),
  };
  if (store.connectionState === 'FAILED' && store.connectionErrorCode) view.ConnectionErrorCode = store.connectionErrorCode;
  if (store.type === 'AWS_CLOUDHSM') {
    if (store.cloudHsmClusterId) view.CloudHsmClusterId = store.cloudHsmClusterId;
    if (store.trustAnchorCertificate) view.TrustAnchorCertificate = store.trustAnchorCertificate;
  }
  if (store.xks) {
    view.XksProxyConfiguration = {
      Connectivity: store.xks.connectivity,
      AccessKeyId: store.xks.accessKeyId,
      UriEndpoint: store.xks.uriEndpoint,
      UriPath: store.xks.uriPath,
    };
    if (store.xks.vpcEndpointServiceName) view.XksProxyConfiguration.VpcEndpointServiceName = store.xks.vpcEndpointServiceName;
    if (store.xks.vpcEndpointServiceOwner) view.XksProxyConfiguration.VpcEndpointServiceOwner = store.xks.vpcEndpointServiceOwner;
  }
  return view;
}
