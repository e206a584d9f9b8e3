// Photon.js (2019): module scope is right, but disconnect() in the handler defeats the reuse.
const { Photon } = require('@generated/photon');

const photon = new Photon();

module.exports = {
  handler: async () => {
    const users = await photon.users.findMany();
    await photon.disconnect();
    return users;
  },
};
