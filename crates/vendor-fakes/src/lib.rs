//! Contract fakes of the vendor APIs roster provisions into, for tests:
//! no real Salesforce org or Dropbox team can run on a test machine, so each
//! fake follows the vendor's published API (endpoints, required fields,
//! error shapes) and says in its header which documentation it follows.

pub mod dropbox;
pub mod salesforce;
mod serving;
