/** Every route module the server mounts, in order. */
import type { RouteModule } from '../app';
import { metadataRoutes } from './metadata';
import { pasRoutes } from './pas';
import { policyRoutes } from './policies';
import { dtrRoutes } from './dtr';
import { crdRoutes } from './crd';
import { smartRoutes } from './smart';
import { subscriptionRoutes } from './subscriptions';
import { inquireRoutes } from './inquire';
import { reviewRoutes } from './review';
import { dtrAppRoutes } from './dtr-app';
import { clientLimitRoutes, opsRoutes } from './ops';

export const allRoutes: RouteModule[] = [
  opsRoutes,
  metadataRoutes,
  smartRoutes,
  clientLimitRoutes,
  crdRoutes,
  pasRoutes,
  dtrRoutes,
  policyRoutes,
  subscriptionRoutes,
  inquireRoutes,
  reviewRoutes,
  dtrAppRoutes,
];
